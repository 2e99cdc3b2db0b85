import Foundation
import GRDB
import StasisCatalog
import StasisIO

/// The store's catalog: one SQLite database in WAL mode, shared by every process that opens the
/// store. Its commit is the one point where an image comes into existence. Per-chunk lookups never
/// touch SQL: each pack's entry table is one blob row, loaded into memory as the chunk index.
public final class Catalog: Sendable {
    /// Store format version this code writes and the highest it reads.
    public static let formatVersion = 1

    public let path: String
    /// The catalog's engine, through which every layer (store, sessions, graph store) reads and
    /// writes its own tables.
    public let database: any CatalogDatabase
    /// The SQLite pool, for the store's queries not yet written against `database` (SQLite only).
    let pool: DatabasePool

    private init(path: String, database: SQLiteCatalog) {
        self.path = path
        self.database = database
        self.pool = database.pool
    }

    /// Creates a new catalog with the store layer's schema and the store's settings.
    static func create(at path: String, chunkSize: Int) throws(StoreError) -> Catalog {
        do {
            let database = try SQLiteCatalog(path: path)
            try CatalogMigrator.migrate(database, StoreSchema.schema)
            try database.write { db in
                let now = Date().timeIntervalSince1970
                try db.execute("INSERT INTO store_meta(key, value) VALUES (?, ?), (?, ?), (?, ?), (?, ?)",
                               ["format_version", .text(String(formatVersion)), "chunk_size", .text(String(chunkSize)),
                                "created_at", .text(String(now)), "store_id", .text(UUID().uuidString.lowercased())])
            }
            return Catalog(path: path, database: database)
        } catch {
            throw .catalog(path: path, message: "cannot create: \(error)")
        }
    }

    /// Opens an existing catalog, refusing one written by a newer stasis before changing anything.
    static func open(at path: String, storeRoot: String) throws(StoreError) -> Catalog {
        let database: SQLiteCatalog
        do { database = try SQLiteCatalog(path: path) } catch {
            throw .catalog(path: path, message: "cannot open: \(error)\(fullDiskHint(storeRoot))")
        }
        do {
            let version = try database.read { db in
                try db.queryOne("SELECT value FROM store_meta WHERE key = 'format_version'", [])?.optionalText("value")
            }
            if let version, let v = Int(version), v > formatVersion {
                throw StoreError.newerFormat(path: storeRoot, found: v, supported: formatVersion)
            }
            try CatalogMigrator.migrate(database, StoreSchema.schema)
        } catch let error as StoreError {
            throw error
        } catch let CatalogError.newerSchema(_, _, unknown) {
            throw StoreError.unknownMigrations(path: storeRoot, names: unknown)
        } catch {
            throw .catalog(path: path, message: "cannot read: \(error)\(fullDiskHint(storeRoot))")
        }
        return Catalog(path: path, database: database)
    }

    /// SQLite reports a full disk as a generic I/O error when it cannot create its WAL index.
    private static func fullDiskHint(_ root: String) -> String {
        guard let free = FileSystem.availableSpace(at: root), free < 1 << 20 else { return "" }
        return " — the file system holding the store is full (\(free) bytes free): free space and try again"
    }

    /// Runs a read, mapping SQLite errors to a message that names the catalog.
    package func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try pool.read(body) } catch let error as StoreError { throw error } catch {
            throw .catalog(path: path, message: "\(error)")
        }
    }

    /// Runs one write transaction: all of it commits, or none.
    package func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try pool.write(body) } catch let error as StoreError { throw error } catch {
            throw .catalog(path: path, message: "\(error)")
        }
    }

    /// A read whose errors pass through untouched (for modules with error types of their own).
    package func readThrough<T>(_ body: (Database) throws -> T) throws -> T { try pool.read(body) }

    /// A write transaction whose errors pass through untouched.
    package func writeThrough<T>(_ body: (Database) throws -> T) throws -> T { try pool.write(body) }

    /// Copies the WAL into the database and truncates it (a daemon does this when it stops, so
    /// that a store at rest is one file of its real size).
    package func checkpointWAL() throws(StoreError) {
        do { try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) } } catch {
            throw .catalog(path: path, message: "\(error)")
        }
    }

    public func meta(_ key: String) throws(StoreError) -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = ?", arguments: [key]) }
    }
}
