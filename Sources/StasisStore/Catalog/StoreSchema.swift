import StasisCatalog

/// The store layer's tables: store settings, packs (with their entry tables), images, blobs.
/// Append-only and named; never edit a migration that has shipped, add one. The other layers own
/// theirs (`SessionsSchema`, `GraphSchema`).
public enum StoreSchema {
    public static let schema = CatalogSchema(layer: "store", migrations: [
        CatalogMigration("v1-store-meta-packs-images-blobs", sqlite: """
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
            """, postgres: """
            CREATE TABLE store_meta (
                key   TEXT PRIMARY KEY NOT NULL,
                value TEXT NOT NULL
            );

            -- One row per sealed pack. The pack's entry table lives in the pack file itself.
            CREATE TABLE packs (
                id           TEXT PRIMARY KEY NOT NULL,
                size         BIGINT NOT NULL,
                chunk_count  BIGINT NOT NULL,
                raw_bytes    BIGINT NOT NULL,
                stored_bytes BIGINT NOT NULL,
                created_at   DOUBLE PRECISION NOT NULL
            );

            -- Images are immutable; the manifest is the file manifests/ab/<id>.manifest,
            -- whose SHA-256 is `id`. The row is what makes the image exist.
            CREATE TABLE images (
                id            TEXT PRIMARY KEY NOT NULL,
                parent_id     TEXT,
                size          BIGINT NOT NULL,
                chunk_size    BIGINT NOT NULL,
                data_chunks   BIGINT NOT NULL,
                data_bytes    BIGINT NOT NULL,
                new_chunks    BIGINT NOT NULL,
                new_bytes     BIGINT NOT NULL,
                source        TEXT NOT NULL,
                created_at    DOUBLE PRECISION NOT NULL
            );

            -- Byte streams cut by FastCDC; `manifest` lists (length, chunk id) pairs.
            CREATE TABLE blobs (
                id          TEXT PRIMARY KEY NOT NULL,
                size        BIGINT NOT NULL,
                created_at  DOUBLE PRECISION NOT NULL,
                manifest    BYTEA NOT NULL
            );
            """),
        // A shared catalog keeps each pack's entry table (44 bytes a chunk, as at the end of the
        // pack), so that a host that starts cold builds its chunk index with one query instead
        // of reading every pack's tail from object storage. NULL on one host: the file has it.
        CatalogMigration("store:v2-pack-entry-tables",
                         sqlite: "ALTER TABLE packs ADD COLUMN entry_table BLOB;",
                         postgres: "ALTER TABLE packs ADD COLUMN entry_table BYTEA;"),
        // Garbage collection across hosts (Formats/fleet.md): writers hold leases, gc condemns
        // packs in one epoch and deletes them only when no writer older than that epoch is left.
        CatalogMigration("store:v3-fleet-gc", sqlite: """
            CREATE TABLE writer_leases (
                id             TEXT PRIMARY KEY NOT NULL,
                host           TEXT NOT NULL,
                kind           TEXT NOT NULL,
                started_epoch  INTEGER NOT NULL,
                started_at     REAL NOT NULL,
                expires_at     REAL NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE writer_uploads (
                lease_id    TEXT NOT NULL,
                object_key  TEXT NOT NULL,
                PRIMARY KEY (lease_id, object_key)
            ) WITHOUT ROWID;
            CREATE TABLE condemned_packs (
                pack_id    TEXT PRIMARY KEY NOT NULL,
                epoch      INTEGER NOT NULL
            ) WITHOUT ROWID;
            INSERT INTO store_meta(key, value) VALUES ('gc_epoch', '0') ON CONFLICT (key) DO NOTHING;
            """, postgres: """
            CREATE TABLE writer_leases (
                id             TEXT PRIMARY KEY NOT NULL,
                host           TEXT NOT NULL,
                kind           TEXT NOT NULL,
                started_epoch  BIGINT NOT NULL,
                started_at     DOUBLE PRECISION NOT NULL,
                expires_at     DOUBLE PRECISION NOT NULL
            );
            CREATE TABLE writer_uploads (
                lease_id    TEXT NOT NULL,
                object_key  TEXT NOT NULL,
                PRIMARY KEY (lease_id, object_key)
            );
            CREATE TABLE condemned_packs (
                pack_id    TEXT PRIMARY KEY NOT NULL,
                epoch      BIGINT NOT NULL
            );
            INSERT INTO store_meta(key, value) VALUES ('gc_epoch', '0') ON CONFLICT (key) DO NOTHING;
            """),
        // Pack format 2 and encryption at rest: each pack row keeps its 16-byte header beside
        // its table (format version, flags, data key), and the data keys live here wrapped by
        // the master key, which never enters the catalog (Formats/encryption.md).
        CatalogMigration("store:v4-pack-headers-data-keys", sqlite: """
            ALTER TABLE packs ADD COLUMN header BLOB;
            CREATE TABLE data_keys (
                key_id              INTEGER PRIMARY KEY NOT NULL,
                wrapped             BLOB NOT NULL,
                master_fingerprint  TEXT NOT NULL,
                created_at          REAL NOT NULL
            );
            """, postgres: """
            ALTER TABLE packs ADD COLUMN header BYTEA;
            CREATE TABLE data_keys (
                key_id              BIGINT PRIMARY KEY NOT NULL,
                wrapped             BYTEA NOT NULL,
                master_fingerprint  TEXT NOT NULL,
                created_at          DOUBLE PRECISION NOT NULL
            );
            """),
        // PostgreSQL compares and sorts text by the database's collation, which need not be C: on
        // an en-US database `ORDER BY id` puts 'a' before 'B' and '_' before '-', where SQLite
        // (BINARY) and every reader of the specs compare bytes. Every text column is made
        // COLLATE "C", so both engines order ids the same and indexes compare with memcmp. No
        // table is rewritten; the indexes on these columns are rebuilt (on a large catalog this
        // takes a while, under the write lock). Nothing to do on SQLite.
        CatalogMigration("store:v5-text-collate-c", sqlite: "", postgres: """
            ALTER TABLE store_meta
                ALTER COLUMN key TYPE TEXT COLLATE "C",
                ALTER COLUMN value TYPE TEXT COLLATE "C";
            ALTER TABLE packs
                ALTER COLUMN id TYPE TEXT COLLATE "C";
            ALTER TABLE images
                ALTER COLUMN id TYPE TEXT COLLATE "C",
                ALTER COLUMN parent_id TYPE TEXT COLLATE "C",
                ALTER COLUMN source TYPE TEXT COLLATE "C";
            ALTER TABLE blobs
                ALTER COLUMN id TYPE TEXT COLLATE "C";
            ALTER TABLE writer_leases
                ALTER COLUMN id TYPE TEXT COLLATE "C",
                ALTER COLUMN host TYPE TEXT COLLATE "C",
                ALTER COLUMN kind TYPE TEXT COLLATE "C";
            ALTER TABLE writer_uploads
                ALTER COLUMN lease_id TYPE TEXT COLLATE "C",
                ALTER COLUMN object_key TYPE TEXT COLLATE "C";
            ALTER TABLE condemned_packs
                ALTER COLUMN pack_id TYPE TEXT COLLATE "C";
            ALTER TABLE data_keys
                ALTER COLUMN master_fingerprint TYPE TEXT COLLATE "C";
            """),
    ], legacyNames: ["v1-store-meta-packs-images-blobs"], ownsUnprefixedNames: true)
}
