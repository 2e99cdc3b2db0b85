import StasisCatalog

extension MemoryStore {
    /// Applies a batch's puts (one per key) inside the batch's transaction. A put keeps the
    /// item's `created_at` (unless the item had expired: then it is a new item), sets
    /// `updated_at` and restarts the TTL; its embeddings replace the item's old ones.
    ///
    /// Statements whose answer is not needed are sent without waiting (`CatalogConnection.send`),
    /// and the kept `created_at` is decided inside the upsert: on PostgreSQL a put costs no round
    /// trip of its own, only the batch's commit.
    static func apply(_ puts: [MemoryBatchPlan.Put], now: Double, _ db: any CatalogConnection, _ cache: ValueCache) throws {
        for put in puts {
            let ns = put.namespace.joined
            // Old embeddings go whenever the item changes: a put without vectors must not keep
            // stale ones, which search would still rank.
            try db.send("DELETE FROM memory_vectors WHERE namespace = ? AND key = ?", [.text(ns), .text(put.key)])
            guard let json = put.valueJSON else {
                try db.send("DELETE FROM memory_items WHERE namespace = ? AND key = ?", [.text(ns), .text(put.key)])
                continue
            }
            let stored = try GraphStore.storeValue(json, chunked: nil, db, cache)
            let expires = put.ttlMinutes.map { now + $0 * 60 }
            try db.send("""
                INSERT INTO memory_items(namespace, key, inline_value, value_id, created_at, updated_at, ttl_minutes, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (namespace, key) DO UPDATE SET
                    inline_value = excluded.inline_value, value_id = excluded.value_id,
                    created_at = CASE WHEN memory_items.expires_at IS NOT NULL AND memory_items.expires_at <= excluded.updated_at
                                      THEN excluded.created_at ELSE memory_items.created_at END,
                    updated_at = excluded.updated_at, ttl_minutes = excluded.ttl_minutes, expires_at = excluded.expires_at
                """, [.text(ns), .text(put.key), stored.inline.map(CatalogValue.blob) ?? .null, stored.valueID.map(CatalogValue.blob) ?? .null,
                      .double(now), .double(now), put.ttlMinutes.map(CatalogValue.double) ?? .null, expires.map(CatalogValue.double) ?? .null])
            for v in put.vectors {
                try db.send("INSERT INTO memory_vectors(namespace, key, path, vector) VALUES (?, ?, ?, ?)",
                            [.text(ns), .text(put.key), .text(v.path), .blob(MemoryVectors.encode(v.values))])
            }
        }
    }
}
