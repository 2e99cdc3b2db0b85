import StasisCatalog

/// The sessions layer's tables: sessions, checkpoints and what they hold, the hash-chained
/// history and its Merkle tiles. Applied by `SessionStore` on first use of a catalog.
public enum SessionsSchema {
    public static let schema = CatalogSchema(layer: "sessions", migrations: [
        CatalogMigration("v2-sessions-checkpoints-history", sqlite: """
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
            """, postgres: """
            CREATE TABLE sessions (
                id          TEXT PRIMARY KEY NOT NULL,
                created_at  DOUBLE PRECISION NOT NULL,
                labels      TEXT NOT NULL,          -- JSON object of strings
                retention   TEXT,                   -- JSON retention policy, or NULL
                -- The history's end as last written, signed by the store key, so that a
                -- truncated tail is detected too (Formats/history.md).
                head_size       BIGINT NOT NULL DEFAULT 0,
                head_chain      BYTEA,
                head_signature  BYTEA,
                head_signer     TEXT                -- public key (hex) if not this store's (imported)
            );

            -- A checkpoint's id is the SHA-256 of `record` (canonical JSON, Formats/checkpoint.md);
            -- `signature` is the store key's Ed25519 signature over it.
            CREATE TABLE checkpoints (
                id            TEXT PRIMARY KEY NOT NULL,
                session_id    TEXT NOT NULL REFERENCES sessions(id),
                parent_id     TEXT,
                created_at    DOUBLE PRECISION NOT NULL,
                history_size  BIGINT NOT NULL,
                record        BYTEA NOT NULL,
                signature     BYTEA NOT NULL,
                signer_key    TEXT                -- public key (hex) if not this store's (imported)
            );
            CREATE INDEX checkpoints_by_session ON checkpoints(session_id, created_at);
            CREATE INDEX checkpoints_by_parent ON checkpoints(parent_id);

            -- What each checkpoint holds: images and blobs by name. `owned` marks the ones its
            -- creation captured; they go when the last checkpoint holding them goes.
            CREATE TABLE checkpoint_refs (
                checkpoint_id TEXT NOT NULL,
                name          TEXT NOT NULL,
                kind          TEXT NOT NULL,          -- 'image' or 'blob'
                target        TEXT NOT NULL,
                owned         BIGINT NOT NULL,
                PRIMARY KEY (checkpoint_id, name)
            );
            CREATE INDEX checkpoint_refs_by_target ON checkpoint_refs(target);

            -- The append-only, hash-chained history of each session (Formats/history.md).
            CREATE TABLE events (
                session_id  TEXT NOT NULL,
                seq         BIGINT NOT NULL,
                time_ns     BIGINT NOT NULL,
                kind        TEXT NOT NULL,
                body        BYTEA NOT NULL,          -- canonical JSON; the leaf hashes these bytes
                leaf        BYTEA NOT NULL,
                chain       BYTEA NOT NULL,
                PRIMARY KEY (session_id, seq)
            );

            -- Roots of complete 256-leaf subtrees of each session's Merkle tree, so that tree
            -- heads and inclusion proofs cost O(n/256 + 256) hashes, not O(n).
            CREATE TABLE merkle_tiles (
                session_id  TEXT NOT NULL,
                tile        BIGINT NOT NULL,
                hash        BYTEA NOT NULL,
                PRIMARY KEY (session_id, tile)
            );
            """),
        // Which host runs a session's sandbox: a fleet store's hosts must not run one session
        // twice (two VMs writing one history). One row per running sandbox.
        CatalogMigration("sessions:v3-sandbox-claims", sqlite: """
            CREATE TABLE sandbox_claims (
                session_id  TEXT PRIMARY KEY NOT NULL,
                sandbox_id  TEXT NOT NULL,
                host        TEXT NOT NULL,
                claimed_at  REAL NOT NULL
            ) WITHOUT ROWID;
            """, postgres: """
            CREATE TABLE sandbox_claims (
                session_id  TEXT PRIMARY KEY NOT NULL,
                sandbox_id  TEXT NOT NULL,
                host        TEXT NOT NULL,
                claimed_at  DOUBLE PRECISION NOT NULL
            );
            """),
        // PostgreSQL compares and sorts text by the database's collation, which need not be C: on
        // an en-US database `ORDER BY id` puts 'a' before 'B' and '_' before '-', where SQLite
        // (BINARY) and every reader of the specs compare bytes. Every text column is made
        // COLLATE "C", so both engines order ids the same and indexes compare with memcmp. No
        // table is rewritten; the indexes on these columns are rebuilt (on a large catalog this
        // takes a while, under the write lock). Nothing to do on SQLite.
        CatalogMigration("sessions:v4-text-collate-c", sqlite: "", postgres: """
            ALTER TABLE sessions
                ALTER COLUMN id TYPE TEXT COLLATE "C",
                ALTER COLUMN labels TYPE TEXT COLLATE "C",
                ALTER COLUMN retention TYPE TEXT COLLATE "C",
                ALTER COLUMN head_signer TYPE TEXT COLLATE "C";
            ALTER TABLE checkpoints
                ALTER COLUMN id TYPE TEXT COLLATE "C",
                ALTER COLUMN session_id TYPE TEXT COLLATE "C",
                ALTER COLUMN parent_id TYPE TEXT COLLATE "C",
                ALTER COLUMN signer_key TYPE TEXT COLLATE "C";
            ALTER TABLE checkpoint_refs
                ALTER COLUMN checkpoint_id TYPE TEXT COLLATE "C",
                ALTER COLUMN name TYPE TEXT COLLATE "C",
                ALTER COLUMN kind TYPE TEXT COLLATE "C",
                ALTER COLUMN target TYPE TEXT COLLATE "C";
            ALTER TABLE events
                ALTER COLUMN session_id TYPE TEXT COLLATE "C",
                ALTER COLUMN kind TYPE TEXT COLLATE "C";
            ALTER TABLE merkle_tiles
                ALTER COLUMN session_id TYPE TEXT COLLATE "C";
            ALTER TABLE sandbox_claims
                ALTER COLUMN session_id TYPE TEXT COLLATE "C",
                ALTER COLUMN sandbox_id TYPE TEXT COLLATE "C",
                ALTER COLUMN host TYPE TEXT COLLATE "C";
            """),
        // Full-text search over the string values of each event's data (commands, output, tool
        // calls, messages; Formats/history.md, "Full-text search"). Appends index in the
        // transaction that writes the events; this migration indexes the histories already
        // there, from their stored bodies: values kept in the blob store (`{"$blob": …}`) are
        // left out of those, as their text is not in the catalog. SQLite: FTS5, whose rowid
        // order is the order of indexing. PostgreSQL: a tsvector over the text reduced to
        // letters and digits (as appends do), a GIN index on it, and an identity column for
        // the same order; a `\u0000` escape (which jsonb refuses) is read as a space.
        CatalogMigration("sessions:v5-event-search", sqlite: """
            CREATE VIRTUAL TABLE event_search USING fts5(
                text, session_id UNINDEXED, seq UNINDEXED, kind UNINDEXED,
                tokenize = 'unicode61 remove_diacritics 2');
            INSERT INTO event_search(text, session_id, seq, kind)
                SELECT substr(t.text, 1, 131072), t.session_id, t.seq, t.kind FROM (
                    SELECT e.session_id, e.seq, e.kind,
                           (SELECT group_concat(j.value, ' ') FROM json_tree(CAST(e.body AS TEXT), '$.data') AS j
                             WHERE j.type = 'text' AND j.key IS NOT '$blob') AS text
                    FROM events AS e ORDER BY e.session_id, e.seq) AS t
                WHERE t.text IS NOT NULL AND t.text != '';
            """, postgres: """
            CREATE TABLE event_search (
                id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                session_id  TEXT COLLATE "C" NOT NULL,
                seq         BIGINT NOT NULL,
                kind        TEXT COLLATE "C" NOT NULL,
                doc         tsvector NOT NULL,
                UNIQUE (session_id, seq)
            );
            INSERT INTO event_search(session_id, seq, kind, doc)
                SELECT t.session_id, t.seq, t.kind,
                       to_tsvector('simple', regexp_replace(left(t.text, 131072), '[^[:alnum:]]+', ' ', 'g'))
                FROM (
                    SELECT e.session_id, e.seq, e.kind,
                           (SELECT string_agg(v #>> '{}', ' ') FROM jsonb_path_query(
                                regexp_replace(regexp_replace(convert_from(e.body, 'UTF8'),
                                    '\\{"\\$blob":"[0-9a-f]{64}","size":[0-9]+\\}', 'null', 'g'),
                                    '\\\\u0000', '\\\\u0020', 'g')::jsonb -> 'data', 'strict $.**') AS v
                             WHERE jsonb_typeof(v) = 'string') AS text
                    FROM events AS e ORDER BY e.session_id, e.seq) AS t
                WHERE t.text IS NOT NULL AND t.text != '';
            CREATE INDEX event_search_doc ON event_search USING GIN (doc);
            """),
        // The order in which a lazily restored guest first touched its memory image's chunks,
        // recorded by the page server of the first lazy restore and used to prefetch on later
        // ones (Formats/lazy-restore.md, "Prefetch in recorded order"). Recorded after the
        // checkpoint exists, so it cannot be in its signed record: a side row keyed by
        // checkpoint and image, naming a blob (content-addressed, verified when read). It goes
        // with its checkpoint.
        CatalogMigration("sessions:v6-memory-access-orders", sqlite: """
            CREATE TABLE memory_access_orders (
                checkpoint_id TEXT NOT NULL,
                image_id      TEXT NOT NULL,
                blob_id       TEXT NOT NULL,
                chunks        INTEGER NOT NULL,
                recorded_at   REAL NOT NULL,
                PRIMARY KEY (checkpoint_id, image_id)
            ) WITHOUT ROWID;
            CREATE INDEX memory_access_orders_by_blob ON memory_access_orders(blob_id);
            """, postgres: """
            CREATE TABLE memory_access_orders (
                checkpoint_id TEXT COLLATE "C" NOT NULL,
                image_id      TEXT COLLATE "C" NOT NULL,
                blob_id       TEXT COLLATE "C" NOT NULL,
                chunks        BIGINT NOT NULL,
                recorded_at   DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (checkpoint_id, image_id)
            );
            CREATE INDEX memory_access_orders_by_blob ON memory_access_orders(blob_id);
            """),
    ], legacyNames: ["v2-sessions-checkpoints-history"])
}
