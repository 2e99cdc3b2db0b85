/// One named, append-only schema change, written for both engines. Never edit a migration that
/// has shipped; add a new one.
public struct CatalogMigration: Sendable {
    public var name: String
    public var sqlite: String
    public var postgres: String

    public init(_ name: String, sqlite: String, postgres: String) {
        self.name = name
        self.sqlite = sqlite
        self.postgres = postgres
    }
}

/// The tables of one layer (the store, sessions, the graph store): each layer owns its schema and
/// applies it when it opens the catalog.
public struct CatalogSchema: Sendable {
    /// The layer's name; its migrations are named `LAYER:…` (three older names are listed in
    /// `legacyNames`, from before layers had prefixes).
    public var layer: String
    public var migrations: [CatalogMigration]
    public var legacyNames: Set<String>
    /// Whether names without a `LAYER:` prefix are this layer's (the lowest layer, the store,
    /// claims them, so that no migration of unknown origin goes unnoticed).
    public var ownsUnprefixedNames: Bool

    public init(layer: String, migrations: [CatalogMigration], legacyNames: Set<String> = [], ownsUnprefixedNames: Bool = false) {
        self.layer = layer
        self.migrations = migrations
        self.legacyNames = legacyNames
        self.ownsUnprefixedNames = ownsUnprefixedNames
    }

    /// Whether an applied migration name belongs to this layer.
    func owns(_ name: String) -> Bool {
        if name.hasPrefix(layer + ":") { return true }
        if name.contains(":") { return false }
        return legacyNames.contains(name) || (ownsUnprefixedNames && !Self.namesFromBeforeLayers.contains(name))
    }

    /// The three migrations named before each layer owned its schema (frozen: new names carry
    /// their layer's prefix).
    static let namesFromBeforeLayers: Set<String> = [
        "v1-store-meta-packs-images-blobs", "v2-sessions-checkpoints-history", "v3-langgraph-checkpoints",
    ]
}

/// Applies layers' migrations, once each, and refuses a catalog that has a migration of a layer
/// that this code does not know (a newer Stasis wrote it) before changing anything.
///
/// Applied names live in one table: `grdb_migrations(identifier)` on SQLite, where GRDB's
/// migrator kept them in stores made before this module, and `stasis_migrations(identifier)` on
/// PostgreSQL.
public enum CatalogMigrator {
    static func table(_ engine: CatalogEngine) -> String { engine == .sqlite ? "grdb_migrations" : "stasis_migrations" }

    /// Whether a table exists (in the schema the connection works in).
    public static func tableExists(_ name: String, _ db: any CatalogConnection) throws(CatalogError) -> Bool {
        db.engine == .sqlite
            ? try db.queryOne("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", name) != nil
            : try db.queryOne("SELECT to_regclass(?)::text AS name", name)?.optionalText("name") != nil
    }

    /// The names applied so far (none in an empty database).
    public static func applied(_ db: any CatalogConnection) throws(CatalogError) -> Set<String> {
        let table = table(db.engine)
        guard try tableExists(table, db) else { return [] }
        return Set(try db.query("SELECT identifier FROM \(table)", []).compactMap { $0.optionalText("identifier") })
    }

    /// Checks, then applies what is missing of `schema`, in one write transaction.
    public static func migrate(_ database: any CatalogDatabase, _ schema: CatalogSchema) throws {
        let known = Set(schema.migrations.map(\.name))
        // A read first: a newer catalog is refused without taking the write lock.
        let before = try database.read { db in try applied(db) }
        try refuseUnknown(before, schema: schema, known: known, location: database.location)
        guard !known.isSubset(of: before) else { return }
        try database.write { db in
            try db.execute("CREATE TABLE IF NOT EXISTS \(table(db.engine)) (identifier TEXT NOT NULL PRIMARY KEY)", [])
            let done = try applied(db)
            try refuseUnknown(done, schema: schema, known: known, location: database.location)
            for m in schema.migrations where !done.contains(m.name) {
                try db.executeScript(db.engine == .sqlite ? m.sqlite : m.postgres)
                try db.execute("INSERT INTO \(table(db.engine)) (identifier) VALUES (?)", m.name)
            }
        }
    }

    /// Whether every migration of `schema` is applied (cheap check before a write).
    public static func isCurrent(_ database: any CatalogDatabase, _ schema: CatalogSchema) throws -> Bool {
        let done = try database.read { db in try applied(db) }
        return Set(schema.migrations.map(\.name)).isSubset(of: done)
    }

    private static func refuseUnknown(_ applied: Set<String>, schema: CatalogSchema, known: Set<String>, location: String) throws(CatalogError) {
        let unknown = applied.filter { schema.owns($0) && !known.contains($0) }.sorted()
        if !unknown.isEmpty { throw .newerSchema(catalog: location, layer: schema.layer, unknown: unknown) }
    }
}
