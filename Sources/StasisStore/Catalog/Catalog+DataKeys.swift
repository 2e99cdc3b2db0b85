import Foundation
import StasisCatalog

/// A data key as the catalog keeps it: wrapped by the master key.
struct WrappedDataKey: Sendable {
    var id: UInt32
    var wrapped: [UInt8]
    var masterFingerprint: String
}

extension Catalog {
    /// The store's data keys, wrapped, in key order.
    func dataKeys() throws(StoreError) -> [WrappedDataKey] {
        try read { db in
            try db.query("SELECT key_id, wrapped, master_fingerprint FROM data_keys ORDER BY key_id", []).map { (row) throws(CatalogError) in
                WrappedDataKey(id: UInt32(truncatingIfNeeded: try row.int("key_id")), wrapped: try row.blob("wrapped"),
                               masterFingerprint: try row.text("master_fingerprint"))
            }
        }
    }

    /// Turns encryption on for a new store: its first data key, current from now on.
    func enableEncryption(firstKey: WrappedDataKey) throws(StoreError) {
        try write { db in
            try Self.insertDataKey(firstKey, db)
            try db.execute("INSERT INTO store_meta(key, value) VALUES ('encryption', ?)", StoreCipher.algorithm)
            try db.execute("INSERT INTO store_meta(key, value) VALUES ('data_key_current', ?)", String(firstKey.id))
        }
    }

    /// Replaces every wrapped key (a master key rotation) and optionally adds a new current data
    /// key, in one transaction: the catalog never holds keys wrapped by two master keys.
    func rewrapDataKeys(_ keys: [WrappedDataKey], adding newKey: WrappedDataKey?) throws(StoreError) {
        try write { db in
            for key in keys {
                try db.execute("UPDATE data_keys SET wrapped = ?, master_fingerprint = ? WHERE key_id = ?",
                               key.wrapped, key.masterFingerprint, Int64(key.id))
            }
            if let newKey {
                try Self.insertDataKey(newKey, db)
                try db.execute("UPDATE store_meta SET value = ? WHERE key = 'data_key_current'", String(newKey.id))
            }
        }
    }

    private static func insertDataKey(_ key: WrappedDataKey, _ db: any CatalogConnection) throws {
        try db.execute("INSERT INTO data_keys(key_id, wrapped, master_fingerprint, created_at) VALUES (?, ?, ?, ?)",
                       Int64(key.id), key.wrapped, key.masterFingerprint, Date().timeIntervalSince1970)
    }
}
