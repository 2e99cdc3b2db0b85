import GRDB

/// The catalog's migrations: append-only and named. Never edit a migration that has shipped;
/// add a new one. A catalog that has applied a migration this list lacks is refused on open.
enum CatalogSchema {
    static let migrationNames = ["v1-store-meta-packs-images-blobs"]

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
        return m
    }
}
