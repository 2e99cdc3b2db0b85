import Foundation
import GRDB

/// A stored byte stream.
public struct BlobRecord: Sendable, Codable, Equatable {
    public var id: String
    public var size: Int64
    public var chunks: Int
    public var createdAt: Date
}

extension Catalog {
    func commitBlob(packs: [PackWriter.Sealed], id: String, size: Int64, manifest: [UInt8]) throws(StoreError) {
        try write { db in
            try Self.insertPacks(packs, db)
            try db.execute(sql: "INSERT OR IGNORE INTO blobs(id, size, created_at, manifest) VALUES (?, ?, ?, ?)",
                           arguments: [id, size, Date().timeIntervalSince1970, Data(manifest)])
        }
    }

    func blobManifestBytes(_ id: String) throws(StoreError) -> [UInt8]? {
        try read { db in
            try Data.fetchOne(db, sql: "SELECT manifest FROM blobs WHERE id = ?", arguments: [id]).map { [UInt8]($0) }
        }
    }

    /// Whether a blob is stored (and so needs no second upload).
    public func hasBlob(_ id: String) throws(StoreError) -> Bool {
        try read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM blobs WHERE id = ?", arguments: [id]) ?? false }
    }

    public func blobs() throws(StoreError) -> [BlobRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, size, created_at, length(manifest) AS m FROM blobs ORDER BY created_at, id").map { row in
                BlobRecord(id: row["id"], size: row["size"], chunks: ((row["m"] as Int) - 28) / 36,
                           createdAt: Date(timeIntervalSince1970: row["created_at"]))
            }
        }
    }

    package func deleteBlob(_ id: String) throws(StoreError) -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM blobs WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    func forEachBlobManifest(_ body: (String, [UInt8]) throws -> Void) throws(StoreError) {
        try read { db in
            let cursor = try Row.fetchCursor(db, sql: "SELECT id, manifest FROM blobs")
            while let row = try cursor.next() {
                let data: Data = row["manifest"]
                try body(row["id"], [UInt8](data))
            }
        }
    }
}
