import Foundation
import GRDB
import StasisIO

/// The store's catalog: one SQLite database in WAL mode, shared by every process that opens the
/// store. Its commit is the one point where an image comes into existence. Per-chunk lookups never
/// touch SQL: each pack's entry table is one blob row, loaded into memory as the chunk index.
public final class Catalog: Sendable {
    /// Store format version this code writes and the highest it reads.
    public static let formatVersion = 1

    public let path: String
    let pool: DatabasePool

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
    }

    private static func configuration() -> Configuration {
        var config = Configuration()
        // Several processes (daemon, CLI invocations) write side by side: wait for each other.
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            // The catalog commit must survive power loss: it is what makes data exist.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        return config
    }

    /// Creates a new catalog with the current schema and the store's settings.
    static func create(at path: String, chunkSize: Int) throws(StoreError) -> Catalog {
        do {
            let pool = try DatabasePool(path: path, configuration: configuration())
            try CatalogSchema.migrator.migrate(pool)
            try pool.write { db in
                let now = Date().timeIntervalSince1970
                try db.execute(sql: "INSERT INTO store_meta(key, value) VALUES (?, ?), (?, ?), (?, ?), (?, ?)",
                               arguments: ["format_version", String(formatVersion), "chunk_size", String(chunkSize),
                                           "created_at", String(now), "store_id", UUID().uuidString.lowercased()])
            }
            return Catalog(path: path, pool: pool)
        } catch {
            throw .catalog(path: path, message: "cannot create: \(error)")
        }
    }

    /// Opens an existing catalog, refusing one written by a newer stasis before changing anything.
    static func open(at path: String, storeRoot: String) throws(StoreError) -> Catalog {
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration())
        } catch {
            throw .catalog(path: path, message: "cannot open: \(error)\(fullDiskHint(storeRoot))")
        }
        do {
            let (superseded, unknown, version) = try pool.read { db in
                let applied = try CatalogSchema.migrator.appliedIdentifiers(db)
                let known = Set(CatalogSchema.migrationNames)
                let version = try String.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'format_version'")
                return (try CatalogSchema.migrator.hasBeenSuperseded(db), applied.subtracting(known).sorted(), version)
            }
            if let version, let v = Int(version), v > formatVersion {
                throw StoreError.newerFormat(path: storeRoot, found: v, supported: formatVersion)
            }
            if superseded { throw StoreError.unknownMigrations(path: storeRoot, names: unknown) }
            try CatalogSchema.migrator.migrate(pool)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .catalog(path: path, message: "cannot read: \(error)\(fullDiskHint(storeRoot))")
        }
        return Catalog(path: path, pool: pool)
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
