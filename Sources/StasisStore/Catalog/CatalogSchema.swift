import GRDB

/// The catalog's migrations: append-only and named. Never edit a migration that has shipped;
/// add a new one. A catalog that has applied a migration this list lacks is refused on open.
enum CatalogSchema {
    static let migrationNames = ["v1-store-meta-packs-images-blobs", "v2-sessions-checkpoints-history", "v3-langgraph-checkpoints"]

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-store-meta-packs-images-blobs") { db in
            try db.execute(sql: """
                CREATE TABLE store_meta (
                    key   TEXT PRIMARY KEY NOT NULL,
                    value TEXT NOT NULL
                ) WITHOUT ROWID;

                -- One row per sealed pack. The pack's entry table lives in the pack file itself.
                CREATE TABLE packs (
                    id           TEXT PRIMARY KEY NOT NULL,
                    size         INTEGER NOT NULL,
                    chunk_count  INTEGER NOT NULL,
                    raw_bytes    INTEGER NOT NULL,
                    stored_bytes INTEGER NOT NULL,
                    created_at   REAL NOT NULL
                ) WITHOUT ROWID;

                -- Images are immutable; the manifest is the file manifests/ab/<id>.manifest,
                -- whose SHA-256 is `id`. The row is what makes the image exist.
                CREATE TABLE images (
                    id            TEXT PRIMARY KEY NOT NULL,
                    parent_id     TEXT,
                    size          INTEGER NOT NULL,
                    chunk_size    INTEGER NOT NULL,
                    data_chunks   INTEGER NOT NULL,
                    data_bytes    INTEGER NOT NULL,
                    new_chunks    INTEGER NOT NULL,
                    new_bytes     INTEGER NOT NULL,
                    source        TEXT NOT NULL,
                    created_at    REAL NOT NULL
                ) WITHOUT ROWID;

                -- Byte streams cut by FastCDC; `manifest` lists (length, chunk id) pairs.
                CREATE TABLE blobs (
                    id          TEXT PRIMARY KEY NOT NULL,
                    size        INTEGER NOT NULL,
                    created_at  REAL NOT NULL,
                    manifest    BLOB NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        m.registerMigration("v2-sessions-checkpoints-history") { db in
            try db.execute(sql: """
                CREATE TABLE sessions (
                    id          TEXT PRIMARY KEY NOT NULL,
                    created_at  REAL NOT NULL,
                    labels      TEXT NOT NULL,          -- JSON object of strings
                    retention   TEXT,                   -- JSON retention policy, or NULL
                    -- The history's end as last written, signed by the store key, so that a
                    -- truncated tail is detected too (Formats/history.md).
                    head_size       INTEGER NOT NULL DEFAULT 0,
                    head_chain      BLOB,
                    head_signature  BLOB,
                    head_signer     TEXT                -- public key (hex) if not this store's (imported)
                ) WITHOUT ROWID;

                -- A checkpoint's id is the SHA-256 of `record` (canonical JSON, Formats/checkpoint.md);
                -- `signature` is the store key's Ed25519 signature over it.
                CREATE TABLE checkpoints (
                    id            TEXT PRIMARY KEY NOT NULL,
                    session_id    TEXT NOT NULL REFERENCES sessions(id),
                    parent_id     TEXT,
                    created_at    REAL NOT NULL,
                    history_size  INTEGER NOT NULL,
                    record        BLOB NOT NULL,
                    signature     BLOB NOT NULL,
                    signer_key    TEXT                -- public key (hex) if not this store's (imported)
                ) WITHOUT ROWID;
                CREATE INDEX checkpoints_by_session ON checkpoints(session_id, created_at);
                CREATE INDEX checkpoints_by_parent ON checkpoints(parent_id);

                -- What each checkpoint holds: images and blobs by name. `owned` marks the ones its
                -- creation captured; they go when the last checkpoint holding them goes.
                CREATE TABLE checkpoint_refs (
                    checkpoint_id TEXT NOT NULL,
                    name          TEXT NOT NULL,
                    kind          TEXT NOT NULL,          -- 'image' or 'blob'
                    target        TEXT NOT NULL,
                    owned         INTEGER NOT NULL,
                    PRIMARY KEY (checkpoint_id, name)
                ) WITHOUT ROWID;
                CREATE INDEX checkpoint_refs_by_target ON checkpoint_refs(target);

                -- The append-only, hash-chained history of each session (Formats/history.md).
                CREATE TABLE events (
                    session_id  TEXT NOT NULL,
                    seq         INTEGER NOT NULL,
                    time_ns     INTEGER NOT NULL,
                    kind        TEXT NOT NULL,
                    body        BLOB NOT NULL,          -- canonical JSON; the leaf hashes these bytes
                    leaf        BLOB NOT NULL,
                    chain       BLOB NOT NULL,
                    PRIMARY KEY (session_id, seq)
                ) WITHOUT ROWID;

                -- Roots of complete 256-leaf subtrees of each session's Merkle tree, so that tree
                -- heads and inclusion proofs cost O(n/256 + 256) hashes, not O(n).
                CREATE TABLE merkle_tiles (
                    session_id  TEXT NOT NULL,
                    tile        INTEGER NOT NULL,
                    hash        BLOB NOT NULL,
                    PRIMARY KEY (session_id, tile)
                ) WITHOUT ROWID;
                """)
        }
        m.registerMigration("v3-langgraph-checkpoints") { db in
            // LangGraph's checkpoints, written by `stasis serve` (Formats/langgraph.md). Keys are
            // LangGraph's own strings. Values are either inline (small) or a `graph_values` id.
            try db.execute(sql: """
                CREATE TABLE graph_checkpoints (
                    thread_id       TEXT NOT NULL,
                    checkpoint_ns   TEXT NOT NULL,
                    checkpoint_id   TEXT NOT NULL,
                    parent_id       TEXT,
                    run_id          TEXT,                   -- metadata.run_id, for delete_for_runs
                    checkpoint_type TEXT NOT NULL,          -- LangGraph serde type of `checkpoint`
                    checkpoint      BLOB NOT NULL,          -- the checkpoint without channel_values
                    metadata_type   TEXT NOT NULL,
                    metadata        BLOB NOT NULL,
                    metadata_json   TEXT NOT NULL,          -- the same metadata as JSON, for filters
                    versions        BLOB NOT NULL,          -- channel -> version (GraphVersions encoding)
                    created_at      REAL NOT NULL,
                    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
                );
                CREATE INDEX graph_checkpoints_by_run ON graph_checkpoints(run_id) WHERE run_id IS NOT NULL;

                -- A channel's value at a version. value_type NULL = the channel was emptied.
                CREATE TABLE graph_channel_values (
                    thread_id      TEXT NOT NULL,
                    checkpoint_ns  TEXT NOT NULL,
                    channel        TEXT NOT NULL,
                    version        TEXT NOT NULL,
                    value_type     TEXT,
                    inline_value   BLOB,
                    value_id       BLOB,
                    PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
                );
                CREATE INDEX graph_channel_values_by_value ON graph_channel_values(value_id) WHERE value_id IS NOT NULL;

                -- Pending writes of tasks, per checkpoint.
                CREATE TABLE graph_writes (
                    thread_id      TEXT NOT NULL,
                    checkpoint_ns  TEXT NOT NULL,
                    checkpoint_id  TEXT NOT NULL,
                    task_id        TEXT NOT NULL,
                    idx            INTEGER NOT NULL,
                    channel        TEXT NOT NULL,
                    task_path      TEXT NOT NULL,
                    value_type     TEXT NOT NULL,
                    inline_value   BLOB,
                    value_id       BLOB,
                    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
                );
                CREATE INDEX graph_writes_by_value ON graph_writes(value_id) WHERE value_id IS NOT NULL;

                -- Large values, cut by FastCDC: id = SHA-256 of the bytes; `chunks` lists
                -- (u32 length, 32-byte chunk id) pairs in order.
                CREATE TABLE graph_values (
                    id      BLOB PRIMARY KEY NOT NULL,
                    size    INTEGER NOT NULL,
                    chunks  BLOB NOT NULL
                );

                -- Content-addressed chunks of those values: id = SHA-256 of the raw bytes;
                -- encoding 0 = raw, 1 = LZ4 block.
                CREATE TABLE graph_chunks (
                    id          BLOB PRIMARY KEY NOT NULL,
                    encoding    INTEGER NOT NULL,
                    raw_length  INTEGER NOT NULL,
                    data        BLOB NOT NULL
                );
                """)
        }
        return m
    }
}
