import GRDB

/// The catalog's migrations: append-only and named. Never edit a migration that has shipped;
/// add a new one. A catalog that has applied a migration this list lacks is refused on open.
enum CatalogSchema {
    static let migrationNames = ["v1-store-meta-packs-images-blobs", "v2-sessions-checkpoints-history"]

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
        return m
    }
}
