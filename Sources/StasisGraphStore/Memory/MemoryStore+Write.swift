import StasisCatalog

extension MemoryStore {
    /// Applies a batch's puts (one per key) inside the batch's transaction. A put keeps the
    /// item's `created_at` (unless the item had expired: then it is a new item), sets
    /// `updated_at` and restarts the TTL; its embeddings replace the item's old ones.
    ///
    /// A batch's puts go in a few multi-row statements (up to `GraphStore.rowsPerInsert` rows
    /// each), not a few statements per put: the batch of many concurrent tasks' puts costs the
    /// catalog a handful of statements. They are sent without waiting for their answers
    /// (`CatalogConnection.send`), and the kept `created_at` is decided inside the upsert, so
    /// that nothing is read first.
    static func apply(_ puts: [MemoryBatchPlan.Put], now: Double, _ db: any CatalogConnection, _ cache: ValueCache) throws {
        // Old embeddings go whenever the item changes: a put without vectors must not keep
        // stale ones, which search would still rank.
        for part in puts.batches(of: GraphStore.rowsPerInsert) {
            try db.send("DELETE FROM memory_vectors WHERE \(keyMatch(part.count))", part.flatMap(keyArguments))
        }
        let deletes = puts.filter { $0.valueJSON == nil }
        for part in deletes.batches(of: GraphStore.rowsPerInsert) {
            try db.send("DELETE FROM memory_items WHERE \(keyMatch(part.count))", part.flatMap(keyArguments))
        }
        var rows: [[CatalogValue]] = []
        var vectors: [[CatalogValue]] = []
        for put in puts {
            guard let json = put.valueJSON else { continue }
            let ns = put.namespace.joined
            let stored = try GraphStore.storeValue(json, chunked: nil, compressInline: false, db, cache)
            let expires = put.ttlMinutes.map { now + $0 * 60 }
            rows.append([.text(ns), .text(put.key), stored.inline.map(CatalogValue.blob) ?? .null, stored.valueID.map(CatalogValue.blob) ?? .null,
                         .double(now), .double(now), put.ttlMinutes.map(CatalogValue.double) ?? .null, expires.map(CatalogValue.double) ?? .null])
            vectors += put.vectors.map { v in [.text(ns), .text(put.key), .text(v.path), .blob(MemoryVectors.encode(v.values))] }
        }
        for part in rows.batches(of: GraphStore.rowsPerInsert) {
            try db.send("""
                INSERT INTO memory_items(namespace, key, inline_value, value_id, created_at, updated_at, ttl_minutes, expires_at)
                VALUES \(GraphStore.placeholders(rows: part.count, columns: 8))
                ON CONFLICT (namespace, key) DO UPDATE SET
                    inline_value = excluded.inline_value, value_id = excluded.value_id,
                    created_at = CASE WHEN memory_items.expires_at IS NOT NULL AND memory_items.expires_at <= excluded.updated_at
                                      THEN excluded.created_at ELSE memory_items.created_at END,
                    updated_at = excluded.updated_at, ttl_minutes = excluded.ttl_minutes, expires_at = excluded.expires_at
                """, part.flatMap { $0 })
        }
        for part in vectors.batches(of: GraphStore.rowsPerInsert) {
            try db.send("INSERT INTO memory_vectors(namespace, key, path, vector) VALUES \(GraphStore.placeholders(rows: part.count, columns: 4))",
                        part.flatMap { $0 })
        }
    }

    /// `(namespace = ? AND key = ?) OR …` for `count` keys.
    static func keyMatch(_ count: Int) -> String {
        Array(repeating: "(namespace = ? AND key = ?)", count: count).joined(separator: " OR ")
    }

    static func keyArguments(_ put: MemoryBatchPlan.Put) -> [CatalogValue] {
        [.text(put.namespace.joined), .text(put.key)]
    }
}
