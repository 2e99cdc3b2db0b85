import StasisCatalog

extension SessionStore {
    /// One event's row of the full-text index.
    struct SearchRow {
        var seq: Int64
        var kind: String
        var text: String
    }

    /// Indexes events inside the caller's transaction, the one that writes them: nothing is
    /// acknowledged unindexed. SQLite: an FTS5 table; PostgreSQL: a tsvector with a GIN index,
    /// its text reduced to letters and digits first so that both engines see the same words
    /// (PostgreSQL's parser would keep `/etc/passwd` as one token). Events without text are
    /// not indexed.
    static func indexForSearch(_ db: any CatalogConnection, session: String, _ rows: [SearchRow]) throws(CatalogError) {
        let values = rows.filter { !$0.text.isEmpty }.map { [CatalogValue.text(session), .int($0.seq), .text($0.kind), .text($0.text)] }
        guard !values.isEmpty else { return }
        switch db.engine {
        case .sqlite:
            try insertRows(db, into: "event_search(session_id, seq, kind, text)", values)
        case .postgres:
            let row = "(?, ?, ?, to_tsvector('simple', regexp_replace(?, '[^[:alnum:]]+', ' ', 'g')))"
            var start = 0
            while start < values.count {
                let batch = values[start..<min(values.count, start + rowsPerInsert)]
                try db.execute("INSERT INTO event_search(session_id, seq, kind, doc) VALUES "
                               + Array(repeating: row, count: batch.count).joined(separator: ", "), batch.flatMap { $0 })
                start += batch.count
            }
        }
    }

    /// Drops a session's rows from the index (with its history).
    static func dropFromSearch(_ db: any CatalogConnection, session: String) throws(CatalogError) {
        try db.execute("DELETE FROM event_search WHERE session_id = ?", session)
    }
}
