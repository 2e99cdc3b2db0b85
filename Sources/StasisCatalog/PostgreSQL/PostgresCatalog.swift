import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// A catalog in PostgreSQL, shared by every host of a fleet (postgres-nio).
///
/// Transactions map to the embedded catalog's meaning: a read is one `REPEATABLE READ, READ ONLY`
/// snapshot; a write takes a transaction-scoped advisory lock first, so writers queue one at a
/// time across hosts as SQLite's writers do on one host, and "read, decide, write" inside one
/// `write` cannot interleave with another writer. Connections are pooled; one that broke is
/// dropped, and one found dead when a transaction begins is replaced at once. Calls block the
/// calling thread (the library is synchronous); the I/O runs on event loops of the catalog's own.
///
/// A write whose COMMIT gets no answer (the connection dropped, the server went away) is not
/// reported as failed, which would tell the caller that nothing was written: the transaction's
/// id, taken when it began, is looked up on a new connection (`txid_status`). Committed, the
/// write returns as if nothing happened; rolled back, it fails saying so; if the server cannot
/// say within `settleTimeout`, the error is `CatalogError.commitUnknown`.
public final class PostgresCatalog: CatalogDatabase, @unchecked Sendable {
    public let engine = CatalogEngine.postgres
    public let configuration: PostgresCatalogConfiguration
    public var location: String { configuration.description }

    /// The lock every write transaction takes (`pg_advisory_xact_lock`): "STASIS" + 1, mixed with
    /// the schema's name so that stores in different schemas of one database do not queue
    /// behind each other.
    let writeLock: Int64

    /// The catalog's own event loops, never NIO's shared ones: a caller may block one of those
    /// (the daemon runs Swift concurrency on them), and a connection living on the very loop its
    /// caller blocks would never answer.
    private static let ownEventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    private let eventLoops: any EventLoopGroup = PostgresCatalog.ownEventLoops
    private let condition = NSCondition()
    private var idle: [PostgresConnection] = []
    private var openConnections = 0
    private var nextID = 0
    private var closed = false
    private let logger = Logger(label: "stasis.catalog.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Connects once to check the configuration (reachable, credentials, database).
    public init(_ configuration: PostgresCatalogConfiguration) throws(CatalogError) {
        self.configuration = configuration
        self.writeLock = Self.writeLock(schema: configuration.schema)
        let c = try connect()
        release(c, broken: false)
    }

    deinit { closeAll() }

    public func read<T>(_ body: (any CatalogConnection) throws -> T) throws -> T {
        try transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", exclusion: .none, body)
    }

    public func write<T>(_ body: (any CatalogConnection) throws -> T) throws -> T {
        try transaction(begin: "BEGIN", exclusion: .store, body)
    }

    /// The write lock shared (so plain writes, which hold it alone, are excluded) and an advisory
    /// lock per key, taken in byte order so that two keyed writes never wait for each other in
    /// a circle.
    public func write<T>(keys: [String], _ body: (any CatalogConnection) throws -> T) throws -> T {
        try transaction(begin: "BEGIN", exclusion: .keys(Set(keys).map { Self.lockID(writeLock, $0) }.sorted()), body)
    }

    /// What a transaction excludes.
    enum Exclusion {
        /// Nothing: a read.
        case none
        /// Every other writer: `pg_advisory_xact_lock(writeLock)`.
        case store
        /// Plain writers and the writers of these keys' locks (sorted).
        case keys([Int64])
    }

    /// A key's advisory lock in the space of a store's write lock (FNV-1a over both).
    static func lockID(_ space: Int64, _ key: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in withUnsafeBytes(of: space.littleEndian, Array.init) + Array(key.utf8) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int64(bitPattern: hash)
    }

    public func checkpointLog() throws(CatalogError) {}

    /// Creates the configured schema if it does not exist yet (`stasis init`); nothing without one.
    public func createSchemaIfMissing() throws {
        guard let schema = configuration.schema else { return }
        // Two hosts running `init` at once may race on the catalog of schemas: the write lock
        // (taken by `write`) orders them.
        try write { db in try db.execute("CREATE SCHEMA IF NOT EXISTS \(schema)", []) }
    }

    static func writeLock(schema: String?) -> Int64 {
        guard let schema else { return 0x5354_4153_4953_0001 }
        // FNV-1a: stable across processes and hosts (Swift's Hasher is seeded per process).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in schema.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int64(bitPattern: hash)
    }

    public func close() { closeAll() }

    private func transaction<T>(begin: String, exclusion: Exclusion, _ body: (any CatalogConnection) throws -> T) throws -> T {
        let (raw, xid) = try start(begin: begin, exclusion: exclusion)
        let connection = PostgresCatalogConnection(connection: raw, location: location, lockSpace: writeLock)
        let lock = if case .none = exclusion { false } else { true }
        var broken = false
        defer { release(raw, broken: broken) }
        let result: T
        do {
            result = try body(connection)
            try connection.settleSent()
        } catch {
            // A statement sent earlier may have failed too: that says nothing about the connection.
            try? connection.settleSent()
            do { try connection.execute("ROLLBACK", []) } catch { broken = true }
            throw error
        }
        // A read-only transaction wrote nothing, and what it read stands: its COMMIT need not be
        // waited for (the connection's next user is queued behind it).
        guard lock else {
            do { try connection.send("COMMIT", []) } catch { broken = true }
            return result
        }
        do { try connection.execute("COMMIT", []) } catch {
            broken = true
            guard let xid else {
                throw CatalogError.commitUnknown(catalog: location, detail: "\(Self.reason(error)); the transaction's id was not known", cause: error)
            }
            switch settle(xid) {
            case .committed:
                return result
            case .rolledBack:
                guard PostgresCatalogConnection.isConnectionLoss(error) else { throw error }   // the server's own refusal
                throw CatalogError.unavailable(catalog: location, detail: "the connection was lost while the transaction committed; the server rolled it back, so none of it was written", cause: error)
            case .unknown(let why):
                throw CatalogError.commitUnknown(catalog: location, detail: "\(Self.reason(error)); asked afterwards: \(why)", cause: error)
            }
        }
        return result
    }

    /// A connection with its transaction begun, and for a write the transaction's id (taken
    /// with the write lock, in the same round trip). A pooled connection found dead here (the
    /// server restarted, something between dropped it while idle) is replaced once: nothing of
    /// the transaction had been done.
    private func start(begin: String, exclusion: Exclusion) throws(CatalogError) -> (PostgresConnection, xid: Int64?) {
        var retried = false
        while true {
            let raw = try acquire()
            let connection = PostgresCatalogConnection(connection: raw, location: location, lockSpace: writeLock)
            do throws(CatalogError) {
                switch exclusion {
                case .none:
                    try connection.execute(begin, [])
                    return (raw, nil)
                case .store:
                    // BEGIN and the lock travel together: one round trip.
                    try connection.send(begin, [])
                    let row = try connection.queryOne("SELECT txid_current() AS xid FROM pg_advisory_xact_lock(?)", [.int(writeLock)])
                    return (raw, row?.optionalInt("xid"))
                case .keys(let locks):
                    try connection.send(begin, [])
                    try connection.send("SELECT 1 AS locked FROM pg_advisory_xact_lock_shared(?)", [.int(writeLock)])
                    for id in locks { try connection.send("SELECT 1 AS locked FROM pg_advisory_xact_lock(?)", [.int(id)]) }
                    let row = try connection.queryOne("SELECT txid_current() AS xid", [])
                    return (raw, row?.optionalInt("xid"))
                }
            } catch {
                release(raw, broken: true)
                guard !retried, PostgresCatalogConnection.isConnectionLoss(error) else { throw error }
                retried = true
            }
        }
    }

    // MARK: - A COMMIT without an answer

    enum CommitOutcome: Equatable {
        case committed, rolledBack
        case unknown(String)
    }

    /// What became of transaction `xid`, asked on new connections until `settleTimeout`. The
    /// server finishes a COMMIT it received whatever became of its client, and rolls back a
    /// transaction whose client went away without one, so the answer is final once the old
    /// session has ended ("in progress" until then).
    func settle(_ xid: Int64) -> CommitOutcome {
        let deadline = ContinuousClock.now + .milliseconds(Int64(configuration.settleTimeout * 1000))
        var last = "no answer"
        while true {
            do throws(CatalogError) {
                let raw = try connect()
                var broken = false
                defer { release(raw, broken: broken) }
                do throws(CatalogError) {
                    let status = try PostgresCatalogConnection(connection: raw, location: location, lockSpace: writeLock)
                        .queryOne("SELECT txid_status(?) AS status", [.int(xid)])?.optionalText("status")
                    switch status {
                    case "committed": return .committed
                    case "aborted": return .rolledBack
                    case "in progress": last = "the transaction was still in progress"
                    default: return .unknown("the server no longer knows transaction \(xid)")
                    }
                } catch {
                    broken = true
                    throw error
                }
            } catch {
                last = Self.reason(error)
            }
            if ContinuousClock.now >= deadline { return .unknown(last) }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// What an error says, without the catalog's location (the message around it names it).
    static func reason(_ error: any Error) -> String {
        switch error {
        case CatalogError.unavailable(_, let detail, _), CatalogError.statement(_, _, let detail, _), CatalogError.conflict(_, let detail):
            return detail
        default:
            return PostgresCatalogConnection.explain(error, connecting: false)
        }
    }

    // MARK: - The pool

    private func acquire() throws(CatalogError) -> PostgresConnection {
        condition.lock()
        while true {
            if closed { condition.unlock(); throw .unavailable(catalog: location, detail: "the catalog was closed", cause: nil) }
            if let c = idle.popLast() {
                condition.unlock()
                if c.isClosed { release(c, broken: true); return try acquire() }
                return c
            }
            if openConnections < configuration.maxConnections {
                openConnections += 1
                condition.unlock()
                do { return try connect(counted: true) } catch {
                    condition.lock(); openConnections -= 1; condition.signal(); condition.unlock()
                    throw error
                }
            }
            condition.wait()
        }
    }

    private func release(_ connection: PostgresConnection, broken: Bool) {
        condition.lock()
        if broken || closed || connection.isClosed {
            openConnections -= 1
            condition.unlock()
            // Waited for: postgres-nio requires a connection to be closed before it goes away.
            _ = try? (connection.close() as EventLoopFuture<Void>).blockingWait()
        } else {
            idle.append(connection)
            condition.unlock()
        }
        condition.signal()
    }

    private func connect(counted: Bool = false) throws(CatalogError) -> PostgresConnection {
        if !counted { condition.lock(); openConnections += 1; condition.unlock() }
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch configuration.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        } catch {
            throw .configuration(field: "sslmode", message: "cannot set up TLS: \(error)")
        }
        var config = PostgresConnection.Configuration(host: configuration.host, port: configuration.port, username: configuration.user,
                                                     password: configuration.password, database: configuration.database, tls: tls)
        config.options.connectTimeout = .seconds(10)
        condition.lock(); nextID += 1; let id = nextID; condition.unlock()
        do {
            let connection = try PostgresConnection.connect(on: eventLoops.next(), configuration: config, id: id, logger: logger).blockingWait()
            if let schema = configuration.schema {
                // The name was checked to be plain (no quoting needed, nothing to inject).
                _ = try connection.query("SET search_path TO \(schema)", []).blockingWait()
            }
            return connection
        } catch {
            condition.lock(); openConnections -= 1; condition.unlock()
            throw .unavailable(catalog: location, detail: PostgresCatalogConnection.explain(error, connecting: true), cause: error)
        }
    }

    private func closeAll() {
        condition.lock()
        closed = true
        let all = idle
        idle = []
        openConnections -= all.count
        condition.broadcast()
        condition.unlock()
        for c in all { _ = try? (c.close() as EventLoopFuture<Void>).blockingWait() }
    }
}
