import Foundation
import StasisJSON

/// One event of a session's history, as stored: its position, time, kind and fields. The stored
/// `body` is hashed as it is: the Merkle leaf and the chain hash cover exactly those bytes.
/// Two body formats exist (Formats/history.md):
/// - 1: the version-1 canonical JSON of `{"data", "kind", "seq", "time"}`, `time` an integer;
/// - 2: RFC 8785 (JCS) of `{"data", "kind", "seq", "time", "v": 2}`, `time` a decimal string
///   (nanoseconds exceed the 2^53 that a JCS number holds exactly). Appends write format 2.
public struct HistoryEvent: Sendable, Equatable {
    public static let currentFormat = 2

    public var seq: Int64
    /// Nanoseconds since 1970-01-01 UTC.
    public var time: Int64
    public var kind: EventKind
    public var data: [String: JSONValue]
    /// The body's format, 1 or 2; kept so that re-encoding a read event gives its stored bytes.
    public var format: Int

    public init(seq: Int64, time: Int64, kind: EventKind, data: [String: JSONValue], format: Int = HistoryEvent.currentFormat) {
        self.seq = seq; self.time = time; self.kind = kind; self.data = data; self.format = format
    }

    /// The stored bytes. Throws for a format-2 event whose data holds a value JCS cannot write
    /// (an integer beyond ±2^53), naming it.
    public func encodedBody() throws(JSONValue.JCSError) -> [UInt8] {
        if format == 1 {
            return JSONValue.object(["data": .object(data), "kind": .string(kind.rawValue), "seq": .int(seq), "time": .int(time)]).canonicalBytes
        }
        return try JSONValue.object(["data": .object(data), "kind": .string(kind.rawValue), "seq": .int(seq),
                                     "time": .string(String(time)), "v": .int(Int64(format))]).jcsBytes()
    }

    /// The stored bytes of an event read from a store, or empty if it cannot be encoded (which
    /// then matches no stored body, so a check that compares them fails rather than passes).
    public var body: [UInt8] { (try? encodedBody()) ?? [] }

    public var date: Date { Date(timeIntervalSince1970: Double(time) / 1e9) }

    /// Decodes a stored body of either format. Callers that need the body canonical compare
    /// `body` with the stored bytes.
    static func decode(body: [UInt8]) -> HistoryEvent? {
        guard let v = try? JSONValue.parse(body), let o = v.objectValue,
              let kindName = o["kind"]?.stringValue, let kind = EventKind(rawValue: kindName),
              let seq = o["seq"]?.intValue, let data = o["data"]?.objectValue else { return nil }
        switch o["v"] {
        case nil:
            guard o.count == 4, let time = o["time"]?.intValue else { return nil }
            return HistoryEvent(seq: seq, time: time, kind: kind, data: data, format: 1)
        case .int(2):
            guard o.count == 5, let text = o["time"]?.stringValue, let time = Int64(text), time >= 0 else { return nil }
            return HistoryEvent(seq: seq, time: time, kind: kind, data: data, format: 2)
        default:
            return nil
        }
    }
}
