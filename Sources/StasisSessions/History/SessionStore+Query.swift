import Foundation
import StasisCatalog
import StasisJSON
import StasisStore

/// Which events `events(…)` returns.
public struct EventQuery: Sendable {
    /// First and last position (inclusive).
    public var since: Int64?
    public var until: Int64?
    /// Earliest and latest event time (inclusive), nanoseconds since 1970.
    public var sinceTime: Int64?
    public var untilTime: Int64?
    public var kinds: Set<EventKind>?
    /// Only the last N matching events (still returned oldest first).
    public var last: Int?
    public var limit: Int?
    public init(since: Int64? = nil, kinds: Set<EventKind>? = nil, last: Int? = nil, limit: Int? = nil) {
        self.since = since; self.kinds = kinds; self.last = last; self.limit = limit
    }

    /// Adds a bound (`--since`/`--until`): a position or a time.
    public mutating func bound(from lower: EventBound?, to upper: EventBound?) {
        switch lower {
        case .position(let p)?: since = p
        case .time(let t)?: sinceTime = t
        case nil: break
        }
        switch upper {
        case .position(let p)?: until = p
        case .time(let t)?: untilTime = t
        case nil: break
        }
    }
}

extension SessionStore {
    /// Events of a session in order, decoded. Reads only the rows asked for (an index range scan).
    public func events(_ sessionIDOrPrefix: String, _ query: EventQuery = EventQuery()) throws(HistoryError) -> [HistoryEvent] {
        let session = try resolveSession(sessionIDOrPrefix)
        var sql = "SELECT seq, body FROM events WHERE session_id = ?"
        var args: [CatalogValue] = [.text(session)]
        if let since = query.since { sql += " AND seq >= ?"; args.append(.int(since)) }
        if let until = query.until { sql += " AND seq <= ?"; args.append(.int(until)) }
        if let t = query.sinceTime { sql += " AND time_ns >= ?"; args.append(.int(t)) }
        if let t = query.untilTime { sql += " AND time_ns <= ?"; args.append(.int(t)) }
        if let kinds = query.kinds, !kinds.isEmpty {
            sql += " AND kind IN (" + kinds.map { _ in "?" }.joined(separator: ",") + ")"
            args.append(contentsOf: kinds.map { .text($0.rawValue) })
        }
        if let last = query.last {
            sql += " ORDER BY seq DESC LIMIT \(max(0, last))"
        } else {
            sql += " ORDER BY seq"
            if let limit = query.limit { sql += " LIMIT \(max(0, limit))" }
        }
        let rows = try read { db in try db.query(sql, args).map { (try $0.int("seq"), try $0.blob("body")) } }
        var events: [HistoryEvent] = []
        events.reserveCapacity(rows.count)
        for (seq, body) in rows {
            guard let event = HistoryEvent.decode(body: body), event.seq == seq else { throw .unreadableEvent(session: session, seq: seq) }
            events.append(event)
        }
        if query.last != nil { events.reverse() }
        return events
    }

    /// The value of an event field, fetching it from the blob store when it was kept there.
    public func resolvedString(_ value: JSONValue) throws(HistoryError) -> String? {
        if let s = value.stringValue { return s }
        if let id = value["$blob"]?.stringValue {
            let bytes = try HistoryError.wrap { () throws(StoreError) in try store.blob(id) }
            return String(decoding: bytes, as: UTF8.self)
        }
        return nil
    }
}
