import Foundation
import StasisCatalog

extension Catalog {
    private static let imageColumns = "id, parent_id, size, chunk_size, data_chunks, data_bytes, new_chunks, new_bytes, source, created_at"

    private static func record(_ row: CatalogRow) throws(CatalogError) -> ImageRecord {
        ImageRecord(
            id: try row.text("id"), parentID: row.optionalText("parent_id"), size: try row.int("size"),
            chunkSize: Int(try row.int("chunk_size")), dataChunks: Int(try row.int("data_chunks")),
            dataBytes: try row.int("data_bytes"), newChunks: Int(try row.int("new_chunks")),
            newBytes: try row.int("new_bytes"), source: try row.text("source"),
            createdAt: Date(timeIntervalSince1970: try row.double("created_at")))
    }

    public func images() throws(StoreError) -> [ImageRecord] {
        try read { db in
            try db.query("SELECT \(Self.imageColumns) FROM images ORDER BY created_at, id", []).map(Self.record)
        }
    }

    public func image(_ id: String) throws(StoreError) -> ImageRecord? {
        try read { db in
            try db.queryOne("SELECT \(Self.imageColumns) FROM images WHERE id = ?", id).map(Self.record)
        }
    }

    /// Resolves a full id or a unique prefix of at least 4 hex digits.
    public func resolveImage(_ idOrPrefix: String) throws(StoreError) -> String {
        let key = idOrPrefix.lowercased()
        guard key.count >= 4, key.count <= 64, key.allSatisfy({ $0.isHexDigit }) else {
            throw .invalidArgument(field: "image id", message: "'\(idOrPrefix)' is not an image id (64 hex digits, or a unique prefix of at least 4)")
        }
        let matches = try read { db in
            try db.query("SELECT id FROM images WHERE id >= ? AND id < ? ORDER BY id LIMIT 4", key, key + "g")
                .map { (row) throws(CatalogError) in try row.text("id") }
        }
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty { throw .imageNotFound(id: idOrPrefix) }
        throw .ambiguousImage(prefix: idOrPrefix, matches: matches)
    }

    /// Every image id (for gc and verify, which read the manifests from their files).
    func imageIDs() throws(StoreError) -> [String] {
        try read { db in try db.query("SELECT id FROM images ORDER BY id", []).map { (row) throws(CatalogError) in try row.text("id") } }
    }

    /// A checkpoint that holds image or blob `target`, if any.
    func checkpointHolding(_ target: String) throws(StoreError) -> String? {
        try read { db in
            // The sessions layer owns checkpoint_refs and creates it on first use: a store that
            // never had a session holds nothing.
            guard try CatalogMigrator.tableExists("checkpoint_refs", db) else { return nil }
            return try db.queryOne("SELECT checkpoint_id FROM checkpoint_refs WHERE target = ? LIMIT 1", target)?.text("checkpoint_id")
        }
    }

    /// Removes an image's row; its chunks stay until `gc`.
    package func deleteImage(_ id: String) throws(StoreError) -> Bool {
        try write { db in try db.execute("DELETE FROM images WHERE id = ?", id) > 0 }
    }
}

extension Catalog {
    /// The one transaction that makes a capture exist: its new packs and its image row.
    /// An image with the same id (the same contents) is kept as it was.
    func commitCapture(packs: [PackWriter.Sealed], image: ImageRecord, lease: WriterLease? = nil) throws(StoreError) {
        try write { db in
            if let lease { try Self.endWriter(lease, db) }
            try Self.insertPacks(packs, db)
            try Self.insertImage(image, db)
        }
    }

    static func insertImage(_ image: ImageRecord, _ db: any CatalogConnection) throws(CatalogError) {
        try db.execute("""
            INSERT INTO images(\(imageColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING
            """, image.id, image.parentID, image.size, image.chunkSize, image.dataChunks,
            image.dataBytes, image.newChunks, image.newBytes, image.source, image.createdAt.timeIntervalSince1970)
    }
}
