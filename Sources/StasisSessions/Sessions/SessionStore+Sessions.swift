import Foundation
import GRDB
import StasisJSON
import StasisStore

extension SessionStore {
    /// Creates a session with the given labels.
    public func createSession(labels: [String: String] = [:]) throws(HistoryError) -> SessionRecord {
        try Labels.validate(labels)
        let id = Self.newID()
        let now = Date()
        let encoded = JSONValue.object(labels.mapValues { .string($0) }).canonicalString
        try write { db in
            try db.execute(sql: "INSERT INTO sessions(id, created_at, labels, retention) VALUES (?, ?, ?, NULL)",
                           arguments: [id, now.timeIntervalSince1970, encoded])
        }
        return SessionRecord(id: id, createdAt: now, labels: labels, retention: nil, historySize: 0, checkpoints: 0)
    }

    public func resolveSession(_ idOrPrefix: String) throws(HistoryError) -> String {
        try resolve(idOrPrefix, table: "sessions", kind: "session") { .sessionNotFound($0) }
    }

    private static let sessionQuery = """
        SELECT s.id, s.created_at, s.labels, s.retention,
               (SELECT COALESCE(MAX(seq) + 1, 0) FROM events e WHERE e.session_id = s.id) AS size,
               (SELECT COUNT(*) FROM checkpoints c WHERE c.session_id = s.id) AS checkpoints
        FROM sessions s
        """

    private static func record(_ row: Row) -> SessionRecord {
        let labels = (try? JSONValue.parse(row["labels"] as String))?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        let retention = (row["retention"] as String?).flatMap { RetentionPolicy(json: $0) }
        return SessionRecord(id: row["id"], createdAt: Date(timeIntervalSince1970: row["created_at"]), labels: labels,
                             retention: retention, historySize: row["size"], checkpoints: row["checkpoints"])
    }

    public func sessions() throws(HistoryError) -> [SessionRecord] {
        try read { db in try Row.fetchAll(db, sql: Self.sessionQuery + " ORDER BY s.created_at, s.id").map(Self.record) }
    }

    /// How many sessions the store holds (its tables are created first on a new store).
    public func sessionCount() throws(HistoryError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sessions") ?? 0 }
    }

    public func session(_ idOrPrefix: String) throws(HistoryError) -> SessionRecord {
        let id = try resolveSession(idOrPrefix)
        guard let r = try read({ db in try Row.fetchOne(db, sql: Self.sessionQuery + " WHERE s.id = ?", arguments: [id]) }) else {
            throw .sessionNotFound(idOrPrefix)
        }
        return Self.record(r)
    }

    /// Removes a session: its history, its checkpoints and what they alone hold. A checkpoint of
    /// another session built on one of this session's is refused unless `cascade`, which removes
    /// those too.
    public func removeSession(_ idOrPrefix: String, cascade: Bool = false) throws(HistoryError) -> [String] {
        let id = try resolveSession(idOrPrefix)
        let mine = try read { db in try String.fetchAll(db, sql: "SELECT id FROM checkpoints WHERE session_id = ?", arguments: [id]) }
        var removed: [String] = []
        for checkpoint in try rootsFirst(mine) {
            removed += try removeCheckpoint(checkpoint, cascade: cascade)
        }
        try write { db in
            try db.execute(sql: "DELETE FROM events WHERE session_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM merkle_tiles WHERE session_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM sessions WHERE id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM store_meta WHERE key >= ? AND key < ?",
                           arguments: ["trusted-signer:\(id):", "trusted-signer:\(id);"])
        }
        return removed
    }

    /// Checkpoints ordered so that descendants come first (safe removal order).
    private func rootsFirst(_ ids: [String]) throws(HistoryError) -> [String] {
        let parents: [String: String?] = try read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT id, parent_id FROM checkpoints").map { ($0["id"] as String, $0["parent_id"] as String?) })
        }
        func depth(_ id: String) -> Int {
            var d = 0, cur = id
            while let p = parents[cur] ?? nil, d < 100_000 { d += 1; cur = p }
            return d
        }
        return ids.sorted { depth($0) > depth($1) }
    }

    /// Sets a session's labels (merging), for `session label`.
    public func setLabels(_ idOrPrefix: String, _ labels: [String: String]) throws(HistoryError) {
        try Labels.validate(labels)
        var s = try session(idOrPrefix)
        s.labels.merge(labels) { _, b in b }
        let encoded = JSONValue.object(s.labels.mapValues { .string($0) }).canonicalString
        try write { db in try db.execute(sql: "UPDATE sessions SET labels = ? WHERE id = ?", arguments: [encoded, s.id]) }
    }
}
