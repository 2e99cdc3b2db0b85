import Foundation
import StasisCatalog
import StasisIO

/// The store's catalog: the database every process and host that opens the store shares — one
/// SQLite file in WAL mode on one host (the default), or PostgreSQL for a fleet. Its commit is the
/// one point where an image comes into existence. Per-chunk lookups never touch SQL: each pack's
/// entry table is loaded into memory as the chunk index.
public final class Catalog: Sendable {
    /// Store format version this code writes and the highest it reads.
    public static let formatVersion = 1

    /// The catalog's engine, through which every layer (store, sessions, graph store) reads and
    /// writes its own tables.
    public let database: any CatalogDatabase

    /// Where the catalog is, for messages: a file path, or `postgres://user@host:port/db`.
    public var location: String { database.location }
    /// The same as `location` (the name from when the catalog was always a file).
    public var path: String { database.location }

    private init(database: any CatalogDatabase) {
        self.database = database
    }

    /// Initializes an empty catalog with the store layer's schema and the store's settings.
    static func create(in database: any CatalogDatabase, chunkSize: Int, publicKey: String, compression: FrameCompression) throws(StoreError) -> Catalog {
        do {
            let existing = try database.read { db in try CatalogMigrator.applied(db) }
            if !existing.isEmpty { throw StoreError.catalogInUse(location: database.location) }
            try CatalogMigrator.migrate(database, StoreSchema.schema)
            try database.write { db in
                let settings: [(String, String)] = [
                    ("format_version", String(formatVersion)), ("chunk_size", String(chunkSize)),
                    ("created_at", String(Date().timeIntervalSince1970)), ("store_id", UUID().uuidString.lowercased()),
                    ("public_key", publicKey), ("compression", compression.description),
                ]
                for (key, value) in settings {
                    try db.execute("INSERT INTO store_meta(key, value) VALUES (?, ?)", key, value)
                }
            }
            return Catalog(database: database)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .catalog(path: database.location, message: "cannot create: \(error)")
        }
    }

    /// Opens an existing catalog, refusing one written by a newer stasis before changing anything.
    static func open(_ database: any CatalogDatabase, storeRoot: String) throws(StoreError) -> Catalog {
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
        } catch let error as CatalogError {
            if let hint = fullDiskHint(storeRoot) { throw .catalog(path: database.location, message: "\(error) — \(hint)") }
            throw .database(error)
        } catch {
            throw .catalog(path: database.location, message: "cannot read: \(error)")
        }
        return Catalog(database: database)
    }

    /// SQLite reports a full disk as a generic I/O error when it cannot create its WAL index.
    static func fullDiskHint(_ root: String) -> String? {
        guard let free = FileSystem.availableSpace(at: root), free < 1 << 20 else { return nil }
        return "the file system holding the store is full (\(free) bytes free): free space and try again"
    }

    /// Runs a read transaction; engine errors come out as `StoreError.database`, a `StoreError`
    /// thrown by `body` unchanged.
    package func read<T>(_ body: (any CatalogConnection) throws -> T) throws(StoreError) -> T {
        do { return try database.read(body) } catch { throw Self.storeError(error, location: location) }
    }

    /// Runs one write transaction: all of it commits, or none.
    package func write<T>(_ body: (any CatalogConnection) throws -> T) throws(StoreError) -> T {
        do { return try database.write(body) } catch { throw Self.storeError(error, location: location) }
    }

    static func storeError(_ error: any Error, location: String) -> StoreError {
        switch error {
        case let e as StoreError: return e
        case let e as CatalogError: return .database(e)
        default: return .catalog(path: location, message: "\(error)")
        }
    }

    /// Folds SQLite's write-ahead log back into the database file (a daemon does this when it
    /// stops, so that a store at rest is one file of its real size); nothing on PostgreSQL.
    package func checkpointWAL() throws(StoreError) {
        do { try database.checkpointLog() } catch { throw .database(error) }
    }

    public func meta(_ key: String) throws(StoreError) -> String? {
        try read { db in try db.queryOne("SELECT value FROM store_meta WHERE key = ?", key)?.optionalText("value") }
    }
}
