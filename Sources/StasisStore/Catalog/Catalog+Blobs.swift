import Foundation
import StasisCatalog

/// A stored byte stream.
public struct BlobRecord: Sendable, Codable, Equatable {
    public var id: String
    public var size: Int64
    public var chunks: Int
    public var createdAt: Date
}

extension Catalog {
    /// Lists a blob with its new packs, in one transaction. A blob with the same id (the same
    /// bytes) is kept as it was.
    func commitBlob(packs: [PackWriter.Sealed], id: String, size: Int64, manifest: [UInt8], lease: WriterLease? = nil) throws(StoreError) {
        try write { db in
            if let lease { try Self.endWriter(lease, db) }
            try Self.insertPacks(packs, db)
            try Self.insertBlob(id: id, size: size, manifest: manifest, db)
        }
    }

    static func insertBlob(id: String, size: Int64, manifest: [UInt8], _ db: any CatalogConnection) throws(CatalogError) {
        try db.execute("INSERT INTO blobs(id, size, created_at, manifest) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                       id, size, Date().timeIntervalSince1970, manifest)
    }

    func blobManifestBytes(_ id: String) throws(StoreError) -> [UInt8]? {
        try read { db in try db.queryOne("SELECT manifest FROM blobs WHERE id = ?", id)?.blob("manifest") }
    }

    /// A blob's size and manifest bytes, if it is stored.
    func blobRow(_ id: String) throws(StoreError) -> (size: Int64, manifest: [UInt8])? {
        try read { db in
            guard let row = try db.queryOne("SELECT size, manifest FROM blobs WHERE id = ?", id) else { return nil }
            return (try row.int("size"), try row.blob("manifest"))
        }
    }

    /// Whether a blob is stored (and so needs no second upload).
    public func hasBlob(_ id: String) throws(StoreError) -> Bool {
        try read { db in try db.queryOne("SELECT 1 AS found FROM blobs WHERE id = ?", id) != nil }
    }

    public func blobs() throws(StoreError) -> [BlobRecord] {
        try read { db in
            // `length` of a BLOB (SQLite) or BYTEA (PostgreSQL) counts bytes on both engines.
            try db.query("SELECT id, size, created_at, length(manifest) AS manifest_bytes FROM blobs ORDER BY created_at, id", []).map { (row) throws(CatalogError) in
                BlobRecord(id: try row.text("id"), size: try row.int("size"),
                           chunks: (Int(try row.int("manifest_bytes")) - BlobManifest.headerSize) / BlobManifest.entrySize,
                           createdAt: Date(timeIntervalSince1970: try row.double("created_at")))
            }
        }
    }

    package func deleteBlob(_ id: String) throws(StoreError) -> Bool {
        try write { db in try db.execute("DELETE FROM blobs WHERE id = ?", id) > 0 }
    }

    /// Every blob's id and manifest bytes, in id order.
    func forEachBlobManifest(_ body: (String, [UInt8]) throws -> Void) throws(StoreError) {
        try read { db in
            try db.forEachRow("SELECT id, manifest FROM blobs ORDER BY id", []) { row in
                try body(try row.text("id"), try row.blob("manifest"))
            }
        }
    }

    /// Every blob's id, size and manifest bytes, in id order (verify).
    func blobRows() throws(StoreError) -> [(id: String, size: Int64, manifest: [UInt8])] {
        try read { db in
            try db.query("SELECT id, size, manifest FROM blobs ORDER BY id", []).map { (row) throws(CatalogError) in
                (try row.text("id"), try row.int("size"), try row.blob("manifest"))
            }
        }
    }
}
