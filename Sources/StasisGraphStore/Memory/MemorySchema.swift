import StasisCatalog

/// The memory store's tables: LangGraph's long-term memories (`BaseStore` items) and their
/// embeddings (Formats/langgraph.md, "Memory store"). Values are stored as channel values are:
/// up to `ChunkedValue.inlineLimit` bytes in the row, larger ones as a `graph_values` id whose
/// chunks are shared with every other value, so the graph store's sweep keeps what items refer
/// to. Applied by `GraphStore`, after the graph tables.
public enum MemorySchema {
    public static let schema = CatalogSchema(layer: "memory", migrations: [
        CatalogMigration("memory:v1-items-vectors", sqlite: """
            -- One item: its namespace's labels joined by '.' (labels never contain one).
            CREATE TABLE memory_items (
                namespace    TEXT NOT NULL,
                key          TEXT NOT NULL,
                inline_value BLOB,                  -- the value's JSON, when small
                value_id     BLOB,                  -- else its graph_values id
                created_at   REAL NOT NULL,         -- seconds since 1970
                updated_at   REAL NOT NULL,
                ttl_minutes  REAL,                  -- NULL: never expires
                expires_at   REAL,                  -- updated_at (or last read) + ttl
                PRIMARY KEY (namespace, key)
            );
            CREATE INDEX memory_items_by_value ON memory_items(value_id) WHERE value_id IS NOT NULL;
            CREATE INDEX memory_items_by_expiry ON memory_items(expires_at) WHERE expires_at IS NOT NULL;

            -- An item's embeddings, one per indexed text: little-endian float32s.
            CREATE TABLE memory_vectors (
                namespace TEXT NOT NULL,
                key       TEXT NOT NULL,
                path      TEXT NOT NULL,
                vector    BLOB NOT NULL,
                PRIMARY KEY (namespace, key, path)
            );
            """, postgres: """
            CREATE TABLE memory_items (
                namespace    TEXT COLLATE "C" NOT NULL,
                key          TEXT COLLATE "C" NOT NULL,
                inline_value BYTEA,
                value_id     BYTEA,
                created_at   DOUBLE PRECISION NOT NULL,
                updated_at   DOUBLE PRECISION NOT NULL,
                ttl_minutes  DOUBLE PRECISION,
                expires_at   DOUBLE PRECISION,
                PRIMARY KEY (namespace, key)
            );
            CREATE INDEX memory_items_by_value ON memory_items(value_id) WHERE value_id IS NOT NULL;
            CREATE INDEX memory_items_by_expiry ON memory_items(expires_at) WHERE expires_at IS NOT NULL;

            CREATE TABLE memory_vectors (
                namespace TEXT COLLATE "C" NOT NULL,
                key       TEXT COLLATE "C" NOT NULL,
                path      TEXT COLLATE "C" NOT NULL,
                vector    BYTEA NOT NULL,
                PRIMARY KEY (namespace, key, path)
            );
            """),
        // A search of one namespace walks its items newest first and stops at its limit, instead
        // of reading (and, with a filter, parsing) every item to sort them.
        CatalogMigration("memory:v2-by-update", sqlite: """
            CREATE INDEX memory_items_by_update ON memory_items(namespace, updated_at DESC, key);
            """, postgres: """
            CREATE INDEX memory_items_by_update ON memory_items(namespace, updated_at DESC, key);
            """),
    ])
}
