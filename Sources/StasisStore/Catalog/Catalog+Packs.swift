import Foundation
import GRDB

/// A sealed pack as listed in the catalog.
public struct PackRecord: Sendable, Codable {
    public var id: String
    public var size: Int64
    public var chunkCount: Int
    public var rawBytes: Int64
    public var storedBytes: Int64
}

extension Catalog {
    static func insertPacks(_ packs: [PackWriter.Sealed], _ db: Database) throws {
        let now = Date().timeIntervalSince1970
        for p in packs {
            try db.execute(sql: """
                INSERT OR REPLACE INTO packs(id, size, chunk_count, raw_bytes, stored_bytes, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [p.packID, p.size, p.chunkCount, p.rawBytes, p.storedBytes, now])
        }
    }

    public func packs() throws(StoreError) -> [PackRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, size, chunk_count, raw_bytes, stored_bytes FROM packs ORDER BY id").map { row in
                PackRecord(id: row["id"], size: row["size"], chunkCount: row["chunk_count"],
                           rawBytes: row["raw_bytes"], storedBytes: row["stored_bytes"])
            }
        }
    }

    /// Replaces packs in one transaction (gc's repack, repair's reindex).
    func replacePacks(removing: [String], adding: [PackWriter.Sealed]) throws(StoreError) {
        try write { db in
            for id in removing { try db.execute(sql: "DELETE FROM packs WHERE id = ?", arguments: [id]) }
            try Self.insertPacks(adding, db)
        }
    }

    /// Replaces the whole pack list (repair --reindex).
    func resetPacks(to packs: [PackWriter.Sealed]) throws(StoreError) {
        try write { db in
            try db.execute(sql: "DELETE FROM packs")
            try Self.insertPacks(packs, db)
        }
    }
}
