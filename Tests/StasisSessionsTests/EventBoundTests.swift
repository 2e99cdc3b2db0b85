import Foundation
import Testing
@testable import StasisSessions

/// Invariants checked: `history show --since/--until` bounds parse as positions, RFC 3339 times
/// (fractions, offsets) and durations before now, and nothing else; a time range and a position
/// range select exactly the events inside them, both ends included.
@Suite("history show --since/--until")
struct EventBoundTests {
    @Test("--since/--until bounds: positions, RFC 3339 times, durations")
    func bounds() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(EventBound.parse("42", now: now) == .position(42))
        #expect(EventBound.parse("2026-12-07T13:00:00Z", now: now) == .time(1_796_648_400_000_000_000))
        #expect(EventBound.parse("2026-12-07T14:00:00.5+01:00", now: now) == .time(1_796_648_400_500_000_000))
        #expect(EventBound.parse("10m", now: now) == .time(1_799_999_400_000_000_000))
        #expect(EventBound.parse("2h", now: now) == .time(1_799_992_800_000_000_000))
        for bad in ["", "-3", "10 m", "m", "yesterday", "2026-13-01T00:00:00Z", "1.2.3h"] { #expect(EventBound.parse(bad, now: now) == nil, "\(bad)") }

        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        _ = try t.sessions.append(s, (0..<5).map { i in EventInput(kind: .note, time: 1_796_648_400_000_000_000 + Int64(i) * 60_000_000_000, data: ["text": .string("n\(i)")]) })
        var q = EventQuery()
        q.bound(from: EventBound.parse("2026-12-07T13:01:00Z"), to: EventBound.parse("2026-12-07T13:03:00Z"))
        #expect(try t.sessions.events(s, q).map(\.seq) == [1, 2, 3])
        q = EventQuery()
        q.bound(from: .position(2), to: .position(3))
        #expect(try t.sessions.events(s, q).map(\.seq) == [2, 3])
    }
}
