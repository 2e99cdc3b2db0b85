import Foundation
import NIOCore
import PostgresNIO
import Synchronization

/// One pooled connection inside a transaction.
struct PostgresCatalogConnection: CatalogConnection {
    let engine = CatalogEngine.postgres
    let connection: PostgresConnection
    let location: String
    /// Statements sent without waiting for their answers, oldest first, with their text for
    /// messages. (postgres-nio runs a connection's statements in the order they were sent.)
    private let unanswered = Unanswered()

    /// The store's write lock, in whose space `lock(_:)` names its keys.
    let lockSpace: Int64

    init(connection: PostgresConnection, location: String, lockSpace: Int64) {
        self.connection = connection
        self.location = location
        self.lockSpace = lockSpace
    }

    func lock(_ key: String) throws(CatalogError) {
        try send("SELECT 1 AS locked FROM pg_advisory_xact_lock(?)", [.int(PostgresCatalog.lockID(lockSpace, key))])
    }

    @discardableResult
    func execute(_ sql: String, _ arguments: [CatalogValue]) throws(CatalogError) -> Int {
        try run(PostgresPlaceholders.rewrite(sql), arguments, shownAs: sql).metadata.rows ?? 0
    }

    func query(_ sql: String, _ arguments: [CatalogValue]) throws(CatalogError) -> [CatalogRow] {
        try run(PostgresPlaceholders.rewrite(sql), arguments, shownAs: sql).rows.map { (row) throws(CatalogError) in try Self.catalogRow(row) }
    }

    func send(_ sql: String, _ arguments: [CatalogValue]) throws(CatalogError) {
        let future = connection.query(PostgresPlaceholders.rewrite(sql), arguments.map(Self.postgresData))
        unanswered.append(future, sql)
    }

    /// Waits for the answers of the statements sent without waiting; throws the first failure
    /// among them. (After a failure PostgreSQL refuses every later statement of the transaction
    /// until it is rolled back, so the first failure is the one that says what went wrong.)
    func settleSent() throws(CatalogError) {
        var first: CatalogError?
        for (future, sql) in unanswered.takeAll() {
            do { _ = try future.blockingWait() } catch {
                if first == nil { first = Self.wrap(error, sql, location: location) }
            }
        }
        if let first { throw first }
    }

    // MARK: - Streaming rows

    /// Rows per `FETCH`: the first batch is small, so that a scan that stops early reads little;
    /// later ones are sized from the rows seen so far to hold about `batchBytes`, within
    /// `minBatch…maxBatch` rows.
    static let firstBatch = 64
    static let minBatch = 16
    static let maxBatch = 16_384
    static let batchBytes = 4 << 20

    /// Names cursors uniquely in the process, so that a body may scan again inside a scan.
    private static let cursorNumbers = Atomic<Int>(0)

    /// A `SELECT` (or `VALUES`) is read through a server-side cursor, `FETCH`ed in batches: at
    /// most one batch is held in memory, and the connection is free between batches, so `body`
    /// may run statements of its own on it (a scan inside a scan, a lookup per row). Every
    /// `CatalogConnection` is inside a transaction, where a cursor lives until it is closed; a
    /// body that throws closes it and leaves the transaction usable. Other statements (an
    /// `INSERT … RETURNING`) cannot be cursors: their rows are read whole, as `query` does.
    func forEachRow(_ sql: String, _ arguments: [CatalogValue], _ body: (CatalogRow) throws -> Void) throws {
        guard Self.isCursorable(sql) else {
            for row in try query(sql, arguments) { try body(row) }
            return
        }
        let cursor = "stasis_rows_\(Self.cursorNumbers.add(1, ordering: .relaxed).newValue)"
        try run("DECLARE \(cursor) NO SCROLL CURSOR FOR " + PostgresPlaceholders.rewrite(sql), arguments, shownAs: sql)
        var open = true
        // A body that threw leaves the cursor open; a FETCH that failed has aborted the
        // transaction, where CLOSE fails too and the caller rolls back anyway.
        defer { if open { _ = try? run("CLOSE \(cursor)", [], shownAs: "CLOSE \(cursor)") } }
        var batch = Self.firstBatch
        var rowsSeen = 0, bytesSeen = 0
        while true {
            let rows = try run("FETCH FORWARD \(batch) FROM \(cursor)", [], shownAs: sql).rows
            for row in rows {
                for cell in row { bytesSeen += cell.bytes?.readableBytes ?? 0 }
                try body(try Self.catalogRow(row))
            }
            if rows.count < batch { break }
            rowsSeen += rows.count
            batch = Self.nextBatch(rowsSeen: rowsSeen, bytesSeen: bytesSeen)
        }
        open = false
        try run("CLOSE \(cursor)", [], shownAs: "CLOSE \(cursor)")
    }

    /// Rows for the next `FETCH`, from the average size of the rows seen so far.
    static func nextBatch(rowsSeen: Int, bytesSeen: Int) -> Int {
        let average = max(1, bytesSeen / max(1, rowsSeen))
        return min(maxBatch, max(minBatch, batchBytes / average))
    }

    /// Whether PostgreSQL accepts the statement as a cursor's query: a plain `SELECT` or `VALUES`.
    /// (`WITH` is left out: one holding an `INSERT` is refused, and the refusal would abort the
    /// caller's transaction.)
    static func isCursorable(_ sql: String) -> Bool {
        let first = sql.drop { $0.isWhitespace || $0 == "(" }.prefix { $0.isLetter }.uppercased()
        return first == "SELECT" || first == "VALUES"
    }

    func executeScript(_ sql: String) throws(CatalogError) {
        for statement in PostgresPlaceholders.statements(sql) { try execute(statement, []) }
    }

    /// Runs one statement (its `?` already rewritten) and waits for all of its rows.
    @discardableResult
    private func run(_ sql: String, _ arguments: [CatalogValue], shownAs shown: String) throws(CatalogError) -> PostgresQueryResult {
        let future = connection.query(sql, arguments.map(Self.postgresData))
        // A statement sent earlier answers first; its failure is the one to report.
        try settleSent()
        do { return try future.blockingWait() } catch {
            throw Self.wrap(error, shown, location: location)
        }
    }

    // MARK: - Errors

    static func wrap(_ error: any Error, _ sql: String, location: String) -> CatalogError {
        if let e = error as? CatalogError { return e }
        if let server = serverError(error) {
            if server.state == "40001" || server.state == "40P01" { return .conflict(catalog: location, detail: explain(error, connecting: false)) }
            if isLossState(server.state) { return .unavailable(catalog: location, detail: explain(error, connecting: false), cause: error) }
        } else if isConnectionLoss(error) {
            return .unavailable(catalog: location, detail: explain(error, connecting: false), cause: error)
        }
        return .statement(catalog: location, sql: sql, detail: explain(error, connecting: false), cause: error)
    }

    /// What the server said when it refused something: its SQLSTATE and message. postgres-nio
    /// reports it as `PSQLError` when connecting and as the older `PostgresError.server` from
    /// the queries this catalog runs.
    static func serverError(_ error: any Error) -> (state: String, message: String)? {
        if let p = error as? PSQLError, let info = p.serverInfo { return (info[.sqlState] ?? "?", info[.message] ?? "\(p.code)") }
        if case PostgresError.server(let e) = error { return (e.fields[.sqlState] ?? "?", e.fields[.message] ?? e.description) }
        return nil
    }

    /// SQLSTATE classes in which the server ends the session: connection exceptions (08) and
    /// operator intervention (57P: shutdown, `pg_terminate_backend`).
    static func isLossState(_ state: String) -> Bool { state.hasPrefix("08") || state.hasPrefix("57P") }

    /// Whether an error means the connection is gone (lost, closed, ended by the server), rather
    /// than the server refusing one statement on a connection that goes on.
    static func isConnectionLoss(_ error: any Error) -> Bool {
        switch error {
        case CatalogError.unavailable: return true
        case CatalogError.statement(_, _, _, let cause?): return isConnectionLoss(cause)
        default: break
        }
        if let server = serverError(error) { return isLossState(server.state) }
        switch error {
        case PostgresError.connectionClosed, PostgresError.protocol: return true
        case let p as PSQLError:
            switch p.code {
            case .connectionError, .uncleanShutdown, .serverClosedConnection, .clientClosedConnection: return true
            default: return false
            }
        case is ChannelError, is IOError: return true
        default: return false
        }
    }

    /// PostgreSQL's own message (and SQLSTATE) where it sent one; else what failed on the way.
    static func explain(_ error: any Error, connecting: Bool) -> String {
        if let server = serverError(error) {
            if server.state == "28P01" || server.state == "28000" { return "the server refused the credentials (\(server.message)): check the user and PGPASSWORD" }
            if server.state == "3D000" { return "\(server.message): create the database or name another one" }
            return "\(server.message) (SQLSTATE \(server.state))"
        }
        let lost = connecting ? "no PostgreSQL answers there (is it running, and is the host and port right?)" : "the connection was lost"
        switch error {
        case PostgresError.connectionClosed: return lost
        case PostgresError.protocol(let message): return connecting ? lost : "the connection was lost (\(message))"
        case let p as PSQLError:
            switch p.code {
            case .connectionError, .uncleanShutdown, .serverClosedConnection, .clientClosedConnection: return lost
            default: return "\(p.code)" + (p.underlying.map { ": \($0)" } ?? "")
            }
        case let channel as ChannelError: return "connection failed: \(channel)"
        case let io as IOError: return connecting ? lost : "the connection was lost (\(io))"
        default: return "\(error)"
        }
    }

    // MARK: - Values

    static func postgresData(_ value: CatalogValue) -> PostgresData {
        switch value {
        case .null: return .null
        case .int(let v): return PostgresData(int64: v)
        case .double(let d): return PostgresData(double: d)
        case .text(let s): return PostgresData(string: s)
        case .blob(let b): return PostgresData(bytes: b)
        }
    }

    static func catalogRow(_ row: PostgresRow) throws(CatalogError) -> CatalogRow {
        var columns: [String] = []
        var values: [CatalogValue] = []
        for cell in row {
            columns.append(cell.columnName)
            values.append(try catalogValue(cell))
        }
        return CatalogRow(columns: columns, values: values)
    }

    static func catalogValue(_ cell: PostgresCell) throws(CatalogError) -> CatalogValue {
        guard cell.bytes != nil else { return .null }
        do {
            switch cell.dataType {
            case .int2, .int4, .int8, .oid: return .int(try cell.decode(Int64.self))
            case .float4, .float8: return .double(try cell.decode(Double.self))
            case .bool: return .int(try cell.decode(Bool.self) ? 1 : 0)
            case .bytea where cell.format == .binary: return .blob(Array(cell.bytes!.readableBytesView))
            case .numeric:
                let d = try cell.decode(Decimal.self)
                if let i = Int64(exactly: NSDecimalNumber(decimal: d).doubleValue), Decimal(i) == d { return .int(i) }
                return .double(NSDecimalNumber(decimal: d).doubleValue)
            default: return .text(try cell.decode(String.self))
            }
        } catch {
            throw .badValue(column: cell.columnName, expected: "a value of type \(cell.dataType)", found: .null)
        }
    }
}

/// The statements a connection sent without waiting for their answers.
private final class Unanswered: Sendable {
    private let futures = Mutex<[(EventLoopFuture<PostgresQueryResult>, String)]>([])

    func append(_ future: EventLoopFuture<PostgresQueryResult>, _ sql: String) {
        futures.withLock { $0.append((future, sql)) }
    }

    func takeAll() -> [(EventLoopFuture<PostgresQueryResult>, String)] {
        futures.withLock { all in
            defer { all = [] }
            return all
        }
    }
}

extension EventLoopFuture {
    /// `wait()` without its ban on being called from any event loop thread: the catalog's futures
    /// complete on its own loops, so a caller on another group's loop (the daemon's) may block.
    func blockingWait() throws -> Value {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<Value, any Error>?
        whenComplete { result in
            outcome = result
            done.signal()
        }
        done.wait()
        return try outcome!.get()
    }
}
