import StasisCatalog
import StasisJSON

/// A full-text search of histories (`history search`, the timeline's search box).
public struct EventSearch: Sendable {
    public var query: SearchQuery
    /// One session (id or prefix), or every session.
    public var session: String?
    public var kinds: Set<EventKind>?
    /// Hits per page (1…1000).
    public var limit: Int
    /// The `next` of the page before, to go on from there.
    public var after: Int64?

    public init(query: SearchQuery, session: String? = nil, kinds: Set<EventKind>? = nil, limit: Int = 100, after: Int64? = nil) {
        self.query = query; self.session = session; self.kinds = kinds; self.limit = limit; self.after = after
    }
}

/// One event that matches, with a line of its text around the first word found.
public struct EventSearchHit: Sendable {
    public var session: String
    public var event: HistoryEvent
    public var snippet: String
}

/// A page of hits in the order events were indexed (time order within a session).
public struct EventSearchPage: Sendable {
    public var hits: [EventSearchHit]
    /// Pass as `after` for the next page; nil when this is the last one.
    public var next: Int64?
}

extension SessionStore {
    public static let searchPageLimit = 1000

    /// Events whose text holds every term of the query, through the catalog's full-text index
    /// (FTS5 on SQLite, tsvector + GIN on PostgreSQL): one index query for the page, then the
    /// page's events by key.
    public func search(_ search: EventSearch) throws(HistoryError) -> EventSearchPage {
        guard (1...Self.searchPageLimit).contains(search.limit) else {
            throw .badArgument(field: "--limit", message: "\(search.limit) is out of range: give 1 to \(Self.searchPageLimit) hits per page")
        }
        let session = try search.session.map { id throws(HistoryError) in try resolveSession(id) }
        let found: [(id: Int64, session: String, seq: Int64)] = try read { db in
            var sql: String, args: [CatalogValue]
            switch db.engine {
            case .sqlite:
                sql = "SELECT rowid AS id, session_id, seq FROM event_search WHERE event_search MATCH ?"
                args = [.text(search.query.fts5)]
                if let after = search.after { sql += " AND rowid > ?"; args.append(.int(after)) }
            case .postgres:
                sql = "SELECT id, session_id, seq FROM event_search WHERE doc @@ to_tsquery('simple', ?)"
                args = [.text(search.query.tsquery)]
                if let after = search.after { sql += " AND id > ?"; args.append(.int(after)) }
            }
            if let session { sql += " AND session_id = ?"; args.append(.text(session)) }
            if let kinds = search.kinds, !kinds.isEmpty {
                sql += " AND kind IN (" + kinds.map { _ in "?" }.joined(separator: ", ") + ")"
                args += kinds.sorted { $0.rawValue < $1.rawValue }.map { .text($0.rawValue) }
            }
            sql += db.engine == .sqlite ? " ORDER BY rowid" : " ORDER BY id"
            sql += " LIMIT \(search.limit + 1)"
            return try db.query(sql, args).map { (try $0.int("id"), try $0.text("session_id"), try $0.int("seq")) }
        }
        let page = found.prefix(search.limit)
        let bodies: [String: [UInt8]] = try read { db in
            var out: [String: [UInt8]] = [:]
            for hit in page {
                if let row = try db.queryOne("SELECT body FROM events WHERE session_id = ? AND seq = ?", hit.session, hit.seq) {
                    out["\(hit.session)/\(hit.seq)"] = try row.blob("body")
                }
            }
            return out
        }
        var hits: [EventSearchHit] = []
        for hit in page {
            guard let body = bodies["\(hit.session)/\(hit.seq)"], let event = HistoryEvent.decode(body: body), event.seq == hit.seq else {
                throw .unreadableEvent(session: hit.session, seq: hit.seq)
            }
            hits.append(EventSearchHit(session: hit.session, event: event,
                                       snippet: Self.snippet(SearchText.of(event.data), words: search.query.highlightWords)))
        }
        return EventSearchPage(hits: hits, next: found.count > search.limit ? page.last?.id : nil)
    }

    /// Up to 160 characters of `text` around the first query word in it (its start if none is
    /// in the inline text: the match was in a value kept in the blob store), on one line.
    static func snippet(_ text: String, words: [String], width: Int = 160) -> String {
        let flat = String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 })
        let lower = flat.lowercased()
        var start = lower.startIndex
        // Lowercasing keeps these ASCII-compatible offsets for the common case; a text whose
        // case mapping changes its length falls back to its start.
        if lower.count == flat.count,
           let first = words.compactMap({ lower.range(of: $0)?.lowerBound }).min() {
            start = lower.index(first, offsetBy: -min(40, lower.distance(from: lower.startIndex, to: first)))
        }
        let offset = lower.distance(from: lower.startIndex, to: start)
        let from = flat.index(flat.startIndex, offsetBy: offset)
        let piece = flat[from...].prefix(width)
        return (offset > 0 ? "…" : "") + piece + (flat.distance(from: from, to: flat.endIndex) > width ? "…" : "")
    }
}

extension EventSearchPage {
    /// The form `history search --json` prints and the timeline server answers: hits in order,
    /// each `{session, seq, time, kind, data, snippet}`, and `next` (null on the last page).
    public var jsonValue: JSONValue {
        ["hits": .array(hits.map { h in
            ["session": .string(h.session), "seq": .int(h.event.seq), "time": .int(h.event.time), "kind": .string(h.event.kind.rawValue),
             "data": .object(h.event.data), "snippet": .string(h.snippet)]
        }), "next": next.map { .int($0) } ?? .null]
    }
}
