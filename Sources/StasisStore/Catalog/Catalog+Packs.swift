import Foundation
import StasisCatalog

/// A sealed pack as listed in the catalog.
public struct PackRecord: Sendable, Codable {
    public var id: String
    public var size: Int64
    public var chunkCount: Int
    public var rawBytes: Int64
    public var storedBytes: Int64
}

extension Catalog {
    /// Lists sealed packs. Pack ids are random, so a row that exists already can only come from
    /// a retry of the same commit: it is kept. A shared catalog (PostgreSQL) also keeps each
    /// pack's entry table; on one host the pack file is where it is read from.
    static func insertPacks(_ packs: [PackWriter.Sealed], _ db: any CatalogConnection) throws(CatalogError) {
        let now = Date().timeIntervalSince1970
        let keepTables = db.engine == .postgres
        for p in packs {
            try db.execute("""
                INSERT INTO packs(id, size, chunk_count, raw_bytes, stored_bytes, created_at, entry_table, header)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING
                """, p.packID, p.size, p.chunkCount, p.rawBytes, p.storedBytes, now,
                keepTables ? p.storedTable : nil, keepTables ? p.header : nil)
        }
    }

    /// Each pack's id, size, and header and stored table where the catalog keeps them, in id
    /// order. (A row of a version-1 pack has a table and no header.)
    func packTables() throws(StoreError) -> [(id: String, size: Int64, header: [UInt8]?, table: [UInt8]?)] {
        try read { db in
            try db.query("SELECT id, size, header, entry_table FROM packs ORDER BY id", []).map { (row) throws(CatalogError) in
                (try row.text("id"), try row.int("size"), row.optionalBlob("header"), row.optionalBlob("entry_table"))
            }
        }
    }

    public func packs() throws(StoreError) -> [PackRecord] {
        try read { db in
            try db.query("SELECT id, size, chunk_count, raw_bytes, stored_bytes FROM packs ORDER BY id", []).map { (row) throws(CatalogError) in
                PackRecord(id: try row.text("id"), size: try row.int("size"), chunkCount: Int(try row.int("chunk_count")),
                           rawBytes: try row.int("raw_bytes"), storedBytes: try row.int("stored_bytes"))
            }
        }
    }

    /// How many packs the catalog lists and their bytes in total.
    public func packTotals() throws(StoreError) -> (count: Int, bytes: Int64) {
        try read { db in
            guard let row = try db.queryOne("SELECT count(*) AS packs, COALESCE(sum(size), 0) AS bytes FROM packs", []) else { return (0, 0) }
            return (Int(try row.int("packs")), try row.int("bytes"))
        }
    }

    /// Replaces packs in one transaction (gc's repack, repair's reindex).
    func replacePacks(removing: [String], adding: [PackWriter.Sealed]) throws(StoreError) {
        try write { db in
            for id in removing { try db.execute("DELETE FROM packs WHERE id = ?", id) }
            try Self.insertPacks(adding, db)
        }
    }

    /// Replaces the whole pack list (repair --reindex).
    func resetPacks(to packs: [PackWriter.Sealed]) throws(StoreError) {
        try write { db in
            try db.execute("DELETE FROM packs", [])
            try Self.insertPacks(packs, db)
        }
    }
}
