import Foundation
import StasisJSON

/// One event of a session's history, as stored: its position, time, kind and fields. The stored
/// `body` is the canonical JSON of `{"data", "kind", "seq", "time"}`; the Merkle leaf and the
/// chain hash cover exactly those bytes.
public struct HistoryEvent: Sendable, Equatable {
    public var seq: Int64
    /// Nanoseconds since 1970-01-01 UTC.
    public var time: Int64
    public var kind: EventKind
    public var data: [String: JSONValue]

    public init(seq: Int64, time: Int64, kind: EventKind, data: [String: JSONValue]) {
        self.seq = seq; self.time = time; self.kind = kind; self.data = data
    }

    public var body: [UInt8] {
        JSONValue.object(["data": .object(data), "kind": .string(kind.rawValue), "seq": .int(seq), "time": .int(time)]).canonicalBytes
    }

    public var date: Date { Date(timeIntervalSince1970: Double(time) / 1e9) }

    /// Decodes a stored body (which must be canonical: re-encoding gives the same bytes).
    static func decode(body: [UInt8]) -> HistoryEvent? {
        guard let v = try? JSONValue.parse(body), let o = v.objectValue,
              let kindName = o["kind"]?.stringValue, let kind = EventKind(rawValue: kindName),
              let seq = o["seq"]?.intValue, let time = o["time"]?.intValue, let data = o["data"]?.objectValue,
              o.count == 4 else { return nil }
        return HistoryEvent(seq: seq, time: time, kind: kind, data: data)
    }
}
