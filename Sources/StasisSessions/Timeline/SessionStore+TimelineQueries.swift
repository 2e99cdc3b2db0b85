import Foundation
import StasisJSON

/// Which sessions the timeline lists.
public struct SessionFilter: Sendable {
    /// Every label must be set to this value.
    public var labels: [String: String] = [:]
    /// Created at or after / at or before (inclusive).
    public var createdSince: Date?
    public var createdUntil: Date?
    /// `running` (a host runs its sandbox now) or `idle`.
    public var state: SessionActivity?

    public init(labels: [String: String] = [:], createdSince: Date? = nil, createdUntil: Date? = nil, state: SessionActivity? = nil) {
        self.labels = labels; self.createdSince = createdSince; self.createdUntil = createdUntil; self.state = state
    }
}

public enum SessionActivity: String, Sendable, CaseIterable {
    case running, idle
}

extension SessionStore {
    /// The most events one page of `timelineEvents` returns.
    public static let timelineEventPage = 10_000

    /// Sessions matching `filter`, oldest first, as the timeline server lists them: id, creation
    /// time (seconds since 1970), labels, history size, checkpoint count, and the sandbox that
    /// runs it (or null).
    public func timelineSessions(_ filter: SessionFilter) throws(HistoryError) -> JSONValue {
        let claims = Dictionary(try sandboxClaims().map { ($0.session, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [JSONValue] = []
        for s in try sessions() {
            if filter.labels.contains(where: { s.labels[$0.key] != $0.value }) { continue }
            if let since = filter.createdSince, s.createdAt < since { continue }
            if let until = filter.createdUntil, s.createdAt > until { continue }
            let claim = claims[s.id]
            if let state = filter.state, (claim != nil) != (state == .running) { continue }
            out.append(["id": .string(s.id), "created": .double(s.createdAt.timeIntervalSince1970),
                        "labels": .object(s.labels.mapValues { .string($0) }), "events": .int(s.historySize),
                        "checkpoints": .int(Int64(s.checkpoints)),
                        "sandbox": claim.map { ["id": .string($0.sandbox), "host": .string($0.host)] } ?? .null])
        }
        return .array(out)
    }

    /// A page of a session's events from position `from` (at most `timelineEventPage`), each as
    /// `{seq, time, kind, data}`, with the history's size so that the page knows what is left.
    /// Times narrow the page like `history show --since/--until`.
    public func timelineEvents(_ sessionIDOrPrefix: String, from: Int64, count: Int, query: EventQuery = EventQuery()) throws(HistoryError) -> JSONValue {
        guard from >= 0 else { throw .badArgument(field: "from", message: "\(from) is negative: positions start at 0") }
        guard (1...Self.timelineEventPage).contains(count) else {
            throw .badArgument(field: "count", message: "\(count) is out of range: give 1 to \(Self.timelineEventPage) events per page")
        }
        let session = try resolveSession(sessionIDOrPrefix)
        var q = query
        q.since = max(from, query.since ?? 0)
        q.limit = count
        q.last = nil
        let events = try self.events(session, q)
        return ["session": .string(session), "size": .int(try historySize(session)),
                "events": .array(events.map { e in ["seq": .int(e.seq), "time": .int(e.time), "kind": .string(e.kind.rawValue), "data": .object(e.data)] })]
    }

    /// A session's checkpoints in history order: id, parent, creation time (nanoseconds), the
    /// history size it covers, and its images by name.
    public func timelineCheckpoints(_ sessionIDOrPrefix: String) throws(HistoryError) -> JSONValue {
        .array(try checkpoints(sessionIDOrPrefix).map { c in
            ["id": .string(c.id), "parent": c.record.parent.map { .string($0) } ?? .null, "created": .int(c.record.createdAt),
             "historySize": .int(c.record.historySize),
             "images": .object(c.record.images.mapValues { .string($0) })]
        })
    }
}

