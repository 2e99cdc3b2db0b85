import Foundation
import GRDB

/// The embedded catalog: one SQLite file in WAL mode (through GRDB), shared by every process on
/// this host. `synchronous = FULL`: a commit is what makes data exist, so it must survive power
/// loss. Writers wait for each other up to 30 s.
public final class SQLiteCatalog: CatalogDatabase {
    public let engine = CatalogEngine.sqlite
    public let path: String
    /// The GRDB pool, for the few loops that read a million rows a second through SQLite's C API.
    public let pool: DatabasePool

    public var location: String { path }

    /// Opens (creating if needed) the database file at `path`.
    public init(path: String) throws(CatalogError) {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        do { pool = try DatabasePool(path: path, configuration: config) } catch {
            throw .unavailable(catalog: path, detail: "\(error)", cause: error)
        }
    }

    public func read<T>(_ body: (any CatalogConnection) throws -> T) throws -> T {
        do { return try pool.read { db in try body(SQLiteConnection(db: db, location: path)) } } catch {
            throw Self.classify(error, location: path)
        }
    }

    public func write<T>(_ body: (any CatalogConnection) throws -> T) throws -> T {
        do { return try pool.write { db in try body(SQLiteConnection(db: db, location: path)) } } catch {
            throw Self.classify(error, location: path)
        }
    }

    public func checkpointLog() throws(CatalogError) {
        do { _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) } } catch {
            throw .statement(catalog: path, sql: "PRAGMA wal_checkpoint(TRUNCATE)", detail: "\(error)", cause: error)
        }
    }

    public func close() { try? pool.close() }

    /// GRDB's own errors become `CatalogError`; anything the caller's body threw passes through.
    static func classify(_ error: any Error, location: String) -> any Error {
        if let e = error as? DatabaseError {
            return CatalogError.statement(catalog: location, sql: e.sql ?? "", detail: e.message ?? "\(e.resultCode)", cause: e)
        }
        return error
    }
}

/// A GRDB `Database` inside one transaction.
public struct SQLiteConnection: CatalogConnection {
    public let engine = CatalogEngine.sqlite
    /// GRDB's handle, for engine-specific fast paths.
    public let db: Database
    let location: String

    public init(db: Database, location: String) {
        self.db = db
        self.location = location
    }

    @discardableResult
    public func execute(_ sql: String, _ arguments: [CatalogValue]) throws(CatalogError) -> Int {
        do {
            try db.execute(sql: sql, arguments: StatementArguments(arguments.map(Self.databaseValue)))
            return db.changesCount
        } catch { throw wrap(error, sql) }
    }

    public func query(_ sql: String, _ arguments: [CatalogValue]) throws(CatalogError) -> [CatalogRow] {
        var rows: [CatalogRow] = []
        do { try forEachRow(sql, arguments) { rows.append($0) } } catch { throw wrap(error, sql) }
        return rows
    }

    public func forEachRow(_ sql: String, _ arguments: [CatalogValue], _ body: (CatalogRow) throws -> Void) throws {
        let cursor: RowCursor
        let columns: [String]
        do {
            let statement = try db.cachedStatement(sql: sql)
            try statement.setArguments(StatementArguments(arguments.map(Self.databaseValue)))
            columns = statement.columnNames
            cursor = try Row.fetchCursor(statement)
        } catch { throw wrap(error, sql) }
        while true {
            let next: Row?
            do { next = try cursor.next() } catch { throw wrap(error, sql) }
            guard let row = next else { return }
            try body(CatalogRow(columns: columns, values: (0..<columns.count).map { Self.catalogValue(row[$0] as DatabaseValue) }))
        }
    }

    public func executeScript(_ sql: String) throws(CatalogError) {
        do { try db.execute(sql: sql) } catch { throw wrap(error, sql) }
    }

    private func wrap(_ error: any Error, _ sql: String) -> CatalogError {
        if let e = error as? CatalogError { return e }
        if let e = error as? DatabaseError { return .statement(catalog: location, sql: sql, detail: e.message ?? "\(e.resultCode)", cause: e) }
        return .statement(catalog: location, sql: sql, detail: "\(error)", cause: nil)
    }

    static func databaseValue(_ value: CatalogValue) -> DatabaseValue {
        switch value {
        case .null: return .null
        case .int(let v): return v.databaseValue
        case .double(let d): return d.databaseValue
        case .text(let s): return s.databaseValue
        case .blob(let b): return Data(b).databaseValue
        }
    }

    static func catalogValue(_ value: DatabaseValue) -> CatalogValue {
        switch value.storage {
        case .null: return .null
        case .int64(let v): return .int(v)
        case .double(let d): return .double(d)
        case .string(let s): return .text(s)
        case .blob(let d): return .blob([UInt8](d))
        }
    }
}
