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

    /// Runs a statement whose answer the caller does not wait for (an insert whose row count it
    /// does not need). PostgreSQL sends it at once and goes on: the statements of a transaction
    /// travel back to back instead of a round trip each, and a failure is reported by the next
    /// statement that waits for its answer (or by the commit, which then does not happen).
    /// SQLite runs it at once.
    func send(_ sql: String, _ arguments: [CatalogValue]) throws(CatalogError)

    /// Inside a keyed write (`CatalogDatabase.write(keys:)`), waits until no other transaction
    /// holds `key` and holds it until this one ends: for rows that writers of different keys
    /// share. Take it after the transaction's keys, never before, so that waits cannot go round
    /// in a circle. Nothing on SQLite, whose writers run one at a time.
    func lock(_ key: String) throws(CatalogError)
}

extension CatalogConnection {
    public func send(_ sql: String, _ arguments: [CatalogValue]) throws(CatalogError) {
        try execute(sql, arguments)
    }

    public func lock(_ key: String) throws(CatalogError) {}

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
/// Keyed writes (`write(keys:)`) are the exception: on PostgreSQL they exclude every plain write
/// and each other's keys, and run beside writes of other keys.
public protocol CatalogDatabase: Sendable {
    var engine: CatalogEngine { get }
    /// Where the catalog is, for messages: a path, or `postgres://user@host:port/db` (no password).
    var location: String { get }

    /// A read-only transaction. Errors thrown by `body` come out unchanged; the engine's own as
    /// `CatalogError`.
    func read<T>(_ body: (any CatalogConnection) throws -> T) throws -> T

    /// A write transaction: all of it commits, or none.
    func write<T>(_ body: (any CatalogConnection) throws -> T) throws -> T

    /// A write transaction whose rows belong to `keys` (a LangGraph thread's checkpoints): it
    /// waits for plain writes and for writes of any of its keys, and runs beside writes of other
    /// keys, which must therefore never decide anything from rows of keys they do not hold (rows
    /// shared between keys are inserted idempotently, under `CatalogConnection.lock`). SQLite
    /// runs it as a plain write.
    func write<T>(keys: [String], _ body: (any CatalogConnection) throws -> T) throws -> T

    /// Folds the write-ahead log back where the engine has one (SQLite); nothing elsewhere.
    func checkpointLog() throws(CatalogError)

    func close()
}

extension CatalogDatabase {
    public func write<T>(keys: [String], _ body: (any CatalogConnection) throws -> T) throws -> T {
        try write(body)
    }
}
