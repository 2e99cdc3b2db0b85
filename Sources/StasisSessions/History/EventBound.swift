import Foundation

/// One end of a range of events (`history show --since/--until`): a position, or a time given
/// as RFC 3339 (`2026-12-07T13:00:00Z`, fractions and offsets allowed) or as a duration before
/// now (`90s`, `10m`, `2h`, `1d`, `1w`; `ms` too).
public enum EventBound: Sendable, Equatable {
    case position(Int64)
    /// Nanoseconds since 1970.
    case time(Int64)

    /// Parses `text`; nil when it is none of the three forms.
    public static func parse(_ text: String, now: Date = Date()) -> EventBound? {
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            return Int64(text).map(EventBound.position)
        }
        if let ago = duration(text) {
            return .time(Int64((now.timeIntervalSince1970 - ago) * 1e9))
        }
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
            let f = ISO8601DateFormatter()
            f.formatOptions = options
            if let date = f.date(from: text) { return .time(Int64((date.timeIntervalSince1970 * 1e9).rounded())) }
        }
        return nil
    }

    /// Seconds in `10m`, `2h`, `1.5d`…, or nil.
    static func duration(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 604800)]
        for (suffix, seconds) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let value = Double(number), value >= 0 else { continue }
            return value * seconds
        }
        return nil
    }

    public static let help = "a position (42), an RFC 3339 time (2026-12-07T13:00:00Z) or a duration before now (10m, 2h, 1d)"
}
