import StasisCatalog

/// The graph store's tables: LangGraph checkpoints, channel values, pending writes and the
/// content-addressed chunks of large values (Formats/langgraph.md). Applied by `GraphStore`.
public enum GraphSchema {
    public static let schema = CatalogSchema(layer: "graph", migrations: [
        CatalogMigration("v3-langgraph-checkpoints", sqlite: """
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
            """, postgres: """
            CREATE TABLE graph_checkpoints (
                thread_id       TEXT NOT NULL,
                checkpoint_ns   TEXT NOT NULL,
                checkpoint_id   TEXT NOT NULL,
                parent_id       TEXT,
                run_id          TEXT,                   -- metadata.run_id, for delete_for_runs
                checkpoint_type TEXT NOT NULL,          -- LangGraph serde type of `checkpoint`
                checkpoint      BYTEA NOT NULL,          -- the checkpoint without channel_values
                metadata_type   TEXT NOT NULL,
                metadata        BYTEA NOT NULL,
                metadata_json   TEXT NOT NULL,          -- the same metadata as JSON, for filters
                versions        BYTEA NOT NULL,          -- channel -> version (GraphVersions encoding)
                created_at      DOUBLE PRECISION NOT NULL,
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
                inline_value   BYTEA,
                value_id       BYTEA,
                PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
            );
            CREATE INDEX graph_channel_values_by_value ON graph_channel_values(value_id) WHERE value_id IS NOT NULL;

            -- Pending writes of tasks, per checkpoint.
            CREATE TABLE graph_writes (
                thread_id      TEXT NOT NULL,
                checkpoint_ns  TEXT NOT NULL,
                checkpoint_id  TEXT NOT NULL,
                task_id        TEXT NOT NULL,
                idx            BIGINT NOT NULL,
                channel        TEXT NOT NULL,
                task_path      TEXT NOT NULL,
                value_type     TEXT NOT NULL,
                inline_value   BYTEA,
                value_id       BYTEA,
                PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
            );
            CREATE INDEX graph_writes_by_value ON graph_writes(value_id) WHERE value_id IS NOT NULL;

            -- Large values, cut by FastCDC: id = SHA-256 of the bytes; `chunks` lists
            -- (u32 length, 32-byte chunk id) pairs in order.
            CREATE TABLE graph_values (
                id      BYTEA PRIMARY KEY NOT NULL,
                size    BIGINT NOT NULL,
                chunks  BYTEA NOT NULL
            );

            -- Content-addressed chunks of those values: id = SHA-256 of the raw bytes;
            -- encoding 0 = raw, 1 = LZ4 block.
            CREATE TABLE graph_chunks (
                id          BYTEA PRIMARY KEY NOT NULL,
                encoding    BIGINT NOT NULL,
                raw_length  BIGINT NOT NULL,
                data        BYTEA NOT NULL
            );
            """),
        // PostgreSQL compares and sorts text by the database's collation, which need not be C: on
        // an en-US database `ORDER BY id` puts 'a' before 'B' and '_' before '-', where SQLite
        // (BINARY) and every reader of the specs compare bytes. Every text column is made
        // COLLATE "C", so both engines order ids the same and indexes compare with memcmp. No
        // table is rewritten; the indexes on these columns are rebuilt (on a large catalog this
        // takes a while, under the write lock). Nothing to do on SQLite.
        CatalogMigration("graph:v4-text-collate-c", sqlite: "", postgres: """
            ALTER TABLE graph_checkpoints
                ALTER COLUMN thread_id TYPE TEXT COLLATE "C",
                ALTER COLUMN checkpoint_ns TYPE TEXT COLLATE "C",
                ALTER COLUMN checkpoint_id TYPE TEXT COLLATE "C",
                ALTER COLUMN parent_id TYPE TEXT COLLATE "C",
                ALTER COLUMN run_id TYPE TEXT COLLATE "C",
                ALTER COLUMN checkpoint_type TYPE TEXT COLLATE "C",
                ALTER COLUMN metadata_type TYPE TEXT COLLATE "C",
                ALTER COLUMN metadata_json TYPE TEXT COLLATE "C";
            ALTER TABLE graph_channel_values
                ALTER COLUMN thread_id TYPE TEXT COLLATE "C",
                ALTER COLUMN checkpoint_ns TYPE TEXT COLLATE "C",
                ALTER COLUMN channel TYPE TEXT COLLATE "C",
                ALTER COLUMN version TYPE TEXT COLLATE "C",
                ALTER COLUMN value_type TYPE TEXT COLLATE "C";
            ALTER TABLE graph_writes
                ALTER COLUMN thread_id TYPE TEXT COLLATE "C",
                ALTER COLUMN checkpoint_ns TYPE TEXT COLLATE "C",
                ALTER COLUMN checkpoint_id TYPE TEXT COLLATE "C",
                ALTER COLUMN task_id TYPE TEXT COLLATE "C",
                ALTER COLUMN channel TYPE TEXT COLLATE "C",
                ALTER COLUMN task_path TYPE TEXT COLLATE "C",
                ALTER COLUMN value_type TYPE TEXT COLLATE "C";
            """),
        // Blobs in rows may be zstd frames (`RowCompression`): NULL keeps every existing row raw,
        // so nothing is rewritten. A Stasis without this migration refuses the catalog.
        CatalogMigration("graph:v5-row-compression", sqlite: """
            ALTER TABLE graph_checkpoints ADD COLUMN checkpoint_encoding INTEGER;
            ALTER TABLE graph_checkpoints ADD COLUMN versions_encoding INTEGER;
            ALTER TABLE graph_channel_values ADD COLUMN inline_encoding INTEGER;
            ALTER TABLE graph_writes ADD COLUMN inline_encoding INTEGER;
            """, postgres: """
            ALTER TABLE graph_checkpoints ADD COLUMN checkpoint_encoding BIGINT, ADD COLUMN versions_encoding BIGINT;
            ALTER TABLE graph_channel_values ADD COLUMN inline_encoding BIGINT;
            ALTER TABLE graph_writes ADD COLUMN inline_encoding BIGINT;
            """),
    ], legacyNames: ["v3-langgraph-checkpoints"])
}
