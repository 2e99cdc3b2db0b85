import Foundation
import GRDB

extension Catalog {
    private static let imageColumns = "id, parent_id, size, chunk_size, data_chunks, data_bytes, new_chunks, new_bytes, source, created_at"

    private static func record(_ row: Row) -> ImageRecord {
        ImageRecord(
            id: row["id"], parentID: row["parent_id"], size: row["size"], chunkSize: row["chunk_size"],
            dataChunks: row["data_chunks"], dataBytes: row["data_bytes"], newChunks: row["new_chunks"],
            newBytes: row["new_bytes"], source: row["source"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]))
    }

    public func images() throws(StoreError) -> [ImageRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.imageColumns) FROM images ORDER BY created_at, id").map(Self.record)
        }
    }

    public func image(_ id: String) throws(StoreError) -> ImageRecord? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.imageColumns) FROM images WHERE id = ?", arguments: [id]).map(Self.record)
        }
    }

    /// Resolves a full id or a unique prefix of at least 4 hex digits.
    public func resolveImage(_ idOrPrefix: String) throws(StoreError) -> String {
        let key = idOrPrefix.lowercased()
        guard key.count >= 4, key.count <= 64, key.allSatisfy({ $0.isHexDigit }) else {
            throw .invalidArgument(field: "image id", message: "'\(idOrPrefix)' is not an image id (64 hex digits, or a unique prefix of at least 4)")
        }
        let matches = try read { db in
            try String.fetchAll(db, sql: "SELECT id FROM images WHERE id >= ? AND id < ? ORDER BY id LIMIT 4",
                                arguments: [key, key + "g"])
        }
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty { throw .imageNotFound(id: idOrPrefix) }
        throw .ambiguousImage(prefix: idOrPrefix, matches: matches)
    }

    /// Every image id (for gc and verify, which read the manifests from their files).
    func imageIDs() throws(StoreError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT id FROM images ORDER BY id") }
    }

    /// A checkpoint that holds image or blob `target`, if any.
    func checkpointHolding(_ target: String) throws(StoreError) -> String? {
        try read { db in
            // The sessions layer owns checkpoint_refs and creates it on first use: a store that
            // never had a session holds nothing.
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoint_refs'") == true else { return nil }
            return try String.fetchOne(db, sql: "SELECT checkpoint_id FROM checkpoint_refs WHERE target = ? LIMIT 1", arguments: [target])
        }
    }

    /// Removes an image's row; its chunks stay until `gc`.
    package func deleteImage(_ id: String) throws(StoreError) -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM images WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }
}

extension Catalog {
    /// The one transaction that makes a capture exist: its new packs and its image row.
    /// An image with the same id (the same contents) is kept as it was.
    func commitCapture(packs: [PackWriter.Sealed], image: ImageRecord) throws(StoreError) {
        try write { db in
            try Self.insertPacks(packs, db)
            try db.execute(sql: """
                INSERT OR IGNORE INTO images(\(Self.imageColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [image.id, image.parentID, image.size, image.chunkSize, image.dataChunks,
                                 image.dataBytes, image.newChunks, image.newBytes, image.source,
                                 image.createdAt.timeIntervalSince1970])
        }
    }
}
