import StasisCatalog

extension MemoryStore {
    /// Applies a batch's puts (one per key) inside the batch's transaction. A put keeps the
    /// item's `created_at` (unless the item had expired: then it is a new item), sets
    /// `updated_at` and restarts the TTL; its embeddings replace the item's old ones.
    static func apply(_ puts: [MemoryBatchPlan.Put], now: Double, _ db: any CatalogConnection, _ cache: ValueCache) throws {
        for put in puts {
            let ns = put.namespace.joined
            try db.execute("DELETE FROM memory_vectors WHERE namespace = ? AND key = ?", ns, put.key)
            guard let json = put.valueJSON else {
                try db.execute("DELETE FROM memory_items WHERE namespace = ? AND key = ?", ns, put.key)
                continue
            }
            let existing = try db.queryOne("""
                SELECT created_at FROM memory_items WHERE namespace = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)
                """, ns, put.key, now)
            let created = try existing?.double("created_at") ?? now
            let stored = try GraphStore.storeValue(json, chunked: nil, db, cache)
            let expires = put.ttlMinutes.map { now + $0 * 60 }
            try db.execute("""
                INSERT INTO memory_items(namespace, key, inline_value, value_id, created_at, updated_at, ttl_minutes, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (namespace, key) DO UPDATE SET
                    inline_value = excluded.inline_value, value_id = excluded.value_id, created_at = excluded.created_at,
                    updated_at = excluded.updated_at, ttl_minutes = excluded.ttl_minutes, expires_at = excluded.expires_at
                """, ns, put.key, stored.inline, stored.valueID, created, now, put.ttlMinutes, expires)
            for v in put.vectors {
                try db.execute("INSERT INTO memory_vectors(namespace, key, path, vector) VALUES (?, ?, ?, ?)",
                               ns, put.key, v.path, MemoryVectors.encode(v.values))
            }
        }
    }
}
