import GRDB
import GRDBSQLite
import StasisCatalog

/// One stored event's columns as the history verifier reads them, whatever their types: raw
/// bytes, valid only during the call that receives them.
struct StoredEventColumns {
    var seq: Int64
    var time: Int64
    var kind: UnsafeRawBufferPointer
    var body: UnsafeRawBufferPointer
    var leaf: UnsafeRawBufferPointer
    var chain: UnsafeRawBufferPointer
}

extension SessionStore {
    static let storedEventsQuery = "SELECT seq, time_ns, kind, body, leaf, chain FROM events WHERE session_id = ? ORDER BY seq"

    /// Hands every stored event of `session` to `visit`, in order. On SQLite the columns come
    /// straight from its C API (no row objects, no copies): about a million events a second on
    /// one core, which `history verify` of a long session needs. Other engines go through rows.
    static func forEachStoredEvent(_ db: any CatalogConnection, session: String,
                                   _ visit: (StoredEventColumns) throws -> Void) throws {
        if let sqlite = db as? StasisCatalog.SQLiteConnection {   // (GRDB names its raw handle so too)
            try forEachStoredEvent(sqlite: sqlite.db, session: session, visit)
        } else {
            try forEachStoredEventRow(db, session: session, visit)
        }
    }

    private static func forEachStoredEvent(sqlite db: Database, session: String, _ visit: (StoredEventColumns) throws -> Void) throws {
        let statement = try db.makeStatement(sql: storedEventsQuery)
        try statement.setArguments([session])
        let stmt = statement.sqliteStatement
        defer { sqlite3_reset(stmt) }
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "reading the history of \(session)") }
            try visit(StoredEventColumns(seq: sqlite3_column_int64(stmt, 0), time: sqlite3_column_int64(stmt, 1), kind: column(stmt, 2),
                                         body: column(stmt, 3), leaf: column(stmt, 4), chain: column(stmt, 5)))
        }
    }

    /// A blob or text column of the current row, valid until the next step.
    @inline(__always)
    private static func column(_ stmt: OpaquePointer, _ index: Int32) -> UnsafeRawBufferPointer {
        let count = Int(sqlite3_column_bytes(stmt, index))
        guard count > 0, let base = sqlite3_column_blob(stmt, index) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base, count: count)
    }

    /// The same through the engine's rows. A byte column holding a number reads as empty (damage
    /// that the verifier names); positions and times are BIGINT NOT NULL where this path runs.
    private static func forEachStoredEventRow(_ db: any CatalogConnection, session: String,
                                              _ visit: (StoredEventColumns) throws -> Void) throws {
        try db.forEachRow(storedEventsQuery, [.text(session)]) { row in
            let seq = try row.int("seq"), time = try row.int("time_ns")
            let parts = ["kind", "body", "leaf", "chain"].map { row.optionalBlob($0) ?? [] }
            // Side by side in one buffer, so that one pointer covers all four.
            try Array(parts.joined()).withUnsafeBytes { all in
                var start = 0
                let columns = parts.map { part -> UnsafeRawBufferPointer in
                    defer { start += part.count }
                    return UnsafeRawBufferPointer(rebasing: all[start..<start + part.count])
                }
                try visit(StoredEventColumns(seq: seq, time: time, kind: columns[0], body: columns[1], leaf: columns[2], chain: columns[3]))
            }
        }
    }
}
