import Foundation
import StasisCatalog
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
            _ = try db.execute("INSERT INTO sessions(id, created_at, labels, retention) VALUES (?, ?, ?, NULL)",
                               id, now.timeIntervalSince1970, encoded)
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

    private static func record(_ row: CatalogRow) throws(CatalogError) -> SessionRecord {
        let labels = (try? JSONValue.parse(row.text("labels")))?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        let retention = row.optionalText("retention").flatMap { RetentionPolicy(json: $0) }
        return SessionRecord(id: try row.text("id"), createdAt: Date(timeIntervalSince1970: try row.double("created_at")), labels: labels,
                             retention: retention, historySize: try row.int("size"), checkpoints: Int(try row.int("checkpoints")))
    }

    public func sessions() throws(HistoryError) -> [SessionRecord] {
        try read { db in try db.query(Self.sessionQuery + " ORDER BY s.created_at, s.id").map(Self.record) }
    }

    /// How many sessions the store holds (its tables are created first on a new store).
    public func sessionCount() throws(HistoryError) -> Int {
        try read { db in Int(try db.queryOne("SELECT COUNT(*) AS n FROM sessions")?.int("n") ?? 0) }
    }

    public func session(_ idOrPrefix: String) throws(HistoryError) -> SessionRecord {
        let id = try resolveSession(idOrPrefix)
        guard let r = try read({ db in try db.queryOne(Self.sessionQuery + " WHERE s.id = ?", id).map(Self.record) }) else {
            throw .sessionNotFound(idOrPrefix)
        }
        return r
    }

    /// Removes a session: its history, its checkpoints and what they alone hold. A checkpoint of
    /// another session built on one of this session's is refused unless `cascade`, which removes
    /// those too.
    public func removeSession(_ idOrPrefix: String, cascade: Bool = false) throws(HistoryError) -> [String] {
        let id = try resolveSession(idOrPrefix)
        let mine = try read { db in try db.query("SELECT id FROM checkpoints WHERE session_id = ?", id).map { try $0.text("id") } }
        var removed: [String] = []
        for checkpoint in try rootsFirst(mine) {
            removed += try removeCheckpoint(checkpoint, cascade: cascade)
        }
        try write { db in
            try db.execute("DELETE FROM events WHERE session_id = ?", id)
            try Self.dropFromSearch(db, session: id)
            try db.execute("DELETE FROM merkle_tiles WHERE session_id = ?", id)
            try db.execute("DELETE FROM sandbox_claims WHERE session_id = ?", id)
            try db.execute("DELETE FROM sessions WHERE id = ?", id)
            // A prefix match, not a key range: PostgreSQL may collate text by language, where
            // the punctuation a range relies on does not sort as bytes. (The id is hex: no
            // wildcard in it.)
            try db.execute("DELETE FROM store_meta WHERE key LIKE ?", "trusted-signer:\(id):%")
        }
        return removed
    }

    /// Checkpoints ordered so that descendants come first (safe removal order).
    private func rootsFirst(_ ids: [String]) throws(HistoryError) -> [String] {
        let parents: [String: String?] = try read { db in
            Dictionary(uniqueKeysWithValues: try db.query("SELECT id, parent_id FROM checkpoints").map { (try $0.text("id"), $0.optionalText("parent_id")) })
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
        try write { db in _ = try db.execute("UPDATE sessions SET labels = ? WHERE id = ?", encoded, s.id) }
    }
}
