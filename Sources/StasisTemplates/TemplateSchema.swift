import StasisCatalog

/// The templates layer's table: one row per template, naming the content-addressed image of its
/// root disk (Formats/template.md). Applied by `TemplateStore` the first time it touches the
/// catalog.
public enum TemplateSchema {
    public static let schema = CatalogSchema(layer: "templates", migrations: [
        CatalogMigration("templates:v1-templates", sqlite: """
            CREATE TABLE templates (
                name             TEXT PRIMARY KEY NOT NULL,
                image_id         TEXT NOT NULL,         -- the ext4 root disk, in the images table
                source           TEXT NOT NULL,         -- "oci:PATH" or "debian:SUITE+PACKAGES"
                config           TEXT NOT NULL,         -- TemplateConfig as JSON
                size             INTEGER NOT NULL,      -- root disk bytes (sparse)
                data_bytes       INTEGER NOT NULL,      -- bytes of the tree it was made from
                warm_checkpoint  TEXT,                  -- a checkpoint of its first boot, if kept
                created_at       REAL NOT NULL
            );
            CREATE INDEX templates_by_image ON templates(image_id);
            """, postgres: """
            CREATE TABLE templates (
                name             TEXT PRIMARY KEY NOT NULL,
                image_id         TEXT NOT NULL,
                source           TEXT NOT NULL,
                config           TEXT NOT NULL,
                size             BIGINT NOT NULL,
                data_bytes       BIGINT NOT NULL,
                warm_checkpoint  TEXT,
                created_at       DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX templates_by_image ON templates(image_id);
            """),
    ])
}
