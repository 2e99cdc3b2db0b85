import Foundation
import StasisJSON

/// An event as an agent or a driver submits it, before it has a position: one JSON object with
/// `kind`, an optional `time` (RFC 3339 string, or nanoseconds since 1970 as an integer; default:
/// now) and the kind's fields, e.g. `{"kind":"command.started","command":"make test"}`.
public struct EventInput: Sendable, Equatable {
    public var kind: EventKind
    public var time: Int64?
    public var data: [String: JSONValue]

    public init(kind: EventKind, time: Int64? = nil, data: [String: JSONValue]) {
        self.kind = kind; self.time = time; self.data = data
    }

    /// Parses and validates one line; `line` numbers the error (1-based).
    public static func parse(_ text: some StringProtocol, line: Int) throws(HistoryError) -> EventInput {
        let value: JSONValue
        do { value = try JSONValue.parse(String(text)) } catch {
            throw .badEvent(line: line, message: error.description)
        }
        return try validate(value, line: line)
    }

    /// Parses one line of raw bytes. Bytes that are not UTF-8 are refused, naming the line and
    /// the byte offset: they are never replaced (U+FFFD would put words in the agent's mouth).
    public static func parse(utf8 bytes: some Collection<UInt8>, line: Int) throws(HistoryError) -> EventInput {
        let array = Array(bytes)
        guard let text = String(validating: array, as: UTF8.self) else {
            throw .badEvent(line: line, message: "the line is not valid UTF-8 (first bad byte at offset \(firstInvalidUTF8Offset(array)))")
        }
        return try parse(text, line: line)
    }

    /// The offset of the first byte that does not begin or continue a valid UTF-8 sequence.
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .error: return offset
            case .emptyInput: return offset
            }
        }
    }

    public static func validate(_ value: JSONValue, line: Int) throws(HistoryError) -> EventInput {
        guard var fields = value.objectValue else {
            throw .badEvent(line: line, message: "an event must be a JSON object, not \(value.typeName)")
        }
        guard let kindValue = fields.removeValue(forKey: "kind") else {
            throw .badEvent(line: line, message: "missing field \"kind\" (one of \(EventKind.accepted))")
        }
        guard let name = kindValue.stringValue, let kind = EventKind(rawValue: name) else {
            throw .badEvent(line: line, message: "unknown kind \(kindValue.canonicalString): use one of \(EventKind.accepted)")
        }
        var time: Int64?
        if let t = fields.removeValue(forKey: "time") {
            if let ns = t.intValue, ns >= 0 {
                time = ns
            } else if let s = t.stringValue, let date = Self.parseDate(s) {
                time = Int64((date.timeIntervalSince1970 * 1e9).rounded())
            } else {
                throw .badEvent(line: line, message: "field \"time\" must be an RFC 3339 time (\"2026-11-29T01:02:03.456Z\") or nanoseconds since 1970")
            }
        }
        for (field, type) in kind.required {
            guard let v = fields[field] else {
                throw .badEvent(line: line, message: "a \(kind.rawValue) event needs field \"\(field)\" (\(type.name))")
            }
            guard type.accepts(v) else {
                throw .badEvent(line: line, message: "field \"\(field)\" of a \(kind.rawValue) event must be \(type.name), not \(v.typeName)")
            }
        }
        if kind == .output, let stream = fields["stream"]?.stringValue, stream != "stdout", stream != "stderr" {
            throw .badEvent(line: line, message: "field \"stream\" must be \"stdout\" or \"stderr\", not \"\(stream)\"")
        }
        // The stored body is RFC 8785 JSON (Formats/history.md): refuse here what it cannot hold.
        do { _ = try JSONValue.object(fields).jcsBytes() } catch {
            throw .badEvent(line: line, message: "field \(error.description)")
        }
        return EventInput(kind: kind, time: time, data: fields)
    }

    static func parseDate(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)
    }
}
