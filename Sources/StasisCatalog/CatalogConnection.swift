/// Which database engine holds a catalog.
public enum CatalogEngine: String, Sendable {
    /// One SQLite file in WAL mode, on this host (the embedded default).
    case sqlite
    /// A PostgreSQL database shared by every host of a fleet.
    case postgres
}

/// One connection inside a transaction. SQL is written once for both engines, with `?`
/// placeholders and the statements both understand (`INSERT … ON CONFLICT …`, no
/// `INSERT OR IGNORE`); `engine` lets the rare engine-specific statement branch.
public protocol CatalogConnection {
    var engine: CatalogEngine { get }

    /// Runs one statement; returns how many rows it changed.
    @discardableResult
    func execute(_ sql: String, _ arguments: [CatalogValue]) throws(CatalogError) -> Int

    /// Runs one statement and returns its rows.
    func query(_ sql: String, _ arguments: [CatalogValue]) throws(CatalogError) -> [CatalogRow]

    /// Runs one statement and hands each row to `body` as it arrives, holding a bounded number of
    /// rows whatever the statement returns (for scans too large to hold): SQLite steps its
    /// statement; PostgreSQL reads a `SELECT` through a cursor, a batch at a time, each batch a
    /// round trip (so `query` suits a few rows better). `body` may run other statements on this
    /// connection, scans included. Errors thrown by `body` stop the scan and come out unchanged,
    /// and the transaction goes on; the engine's errors come out as `CatalogError`.
    func forEachRow(_ sql: String, _ arguments: [CatalogValue], _ body: (CatalogRow) throws -> Void) throws

    /// Runs several statements without arguments (a migration).
    func executeScript(_ sql: String) throws(CatalogError)
}

extension CatalogConnection {
    @discardableResult
    public func execute(_ sql: String, _ arguments: any CatalogBindable...) throws(CatalogError) -> Int {
        try execute(sql, arguments.map(\.catalogValue))
    }

    public func query(_ sql: String, _ arguments: any CatalogBindable...) throws(CatalogError) -> [CatalogRow] {
        try query(sql, arguments.map(\.catalogValue))
    }

    public func queryOne(_ sql: String, _ arguments: [CatalogValue]) throws(CatalogError) -> CatalogRow? {
        try query(sql, arguments).first
    }

    public func queryOne(_ sql: String, _ arguments: any CatalogBindable...) throws(CatalogError) -> CatalogRow? {
        try query(sql, arguments.map(\.catalogValue)).first
    }

    /// The first column of the first row, if any (a `count(*)`, a single value).
    public func scalar(_ sql: String, _ arguments: any CatalogBindable...) throws(CatalogError) -> CatalogValue? {
        try query(sql, arguments.map(\.catalogValue)).first?.values.first
    }

    /// Runs `body` in a savepoint: its changes are undone if it throws, and the transaction
    /// around it goes on (one bad request in a group commit fails alone).
    public func savepoint<T>(_ name: String = "stasis_sp", _ body: () throws -> T) throws -> T {
        try execute("SAVEPOINT \(name)", [])
        do {
            let result = try body()
            try execute("RELEASE SAVEPOINT \(name)", [])
            return result
        } catch {
            _ = try? execute("ROLLBACK TO SAVEPOINT \(name)", [])
            _ = try? execute("RELEASE SAVEPOINT \(name)", [])
            throw error
        }
    }
}

/// A catalog database: transactions over connections of one engine.
///
/// Reads see one consistent snapshot. Writes are serialized across every process and host that
/// shares the catalog (SQLite's one writer; on PostgreSQL a transaction-scoped advisory lock), so
/// code written as "read, decide, write" inside one `write` means the same on both engines.
public protocol CatalogDatabase: Sendable {
    var engine: CatalogEngine { get }
    /// Where the catalog is, for messages: a path, or `postgres://user@host:port/db` (no password).
    var location: String { get }

    /// A read-only transaction. Errors thrown by `body` come out unchanged; the engine's own as
    /// `CatalogError`.
    func read<T>(_ body: (any CatalogConnection) throws -> T) throws -> T

    /// A write transaction: all of it commits, or none.
    func write<T>(_ body: (any CatalogConnection) throws -> T) throws -> T

    /// Folds the write-ahead log back where the engine has one (SQLite); nothing elsewhere.
    func checkpointLog() throws(CatalogError)

    func close()
}
