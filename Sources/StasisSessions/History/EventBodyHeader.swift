import Foundation

/// The position, time and kind of a stored event body, read from its end without parsing the
/// JSON. A body of format 1 is `{"data":{…},"kind":"K","seq":S,"time":T}`, one of format 2
/// `{"data":{…},"kind":"K","seq":S,"time":"T","v":2}` (keys sorted, so the data comes first); the
/// last `,"kind":"` in it is the top-level one, because nothing after the data object but numbers
/// and a string of digits follows it, and a quote inside a string is always escaped.
struct EventBodyHeader: Equatable {
    /// Byte range of the kind's name within the body.
    var kind: Range<Int>
    var seq: Int64
    var time: Int64
    var format: Int

    private static let prefix: StaticString = #"{"data":{"#
    private static let timeKey: StaticString = #","time":"#
    private static let seqKey: StaticString = #","seq":"#
    private static let kindKey: StaticString = #","kind":""#
    private static let formatTwo: StaticString = #","v":2}"#

    @inline(__always)
    static func parse(_ body: UnsafeRawBufferPointer) -> EventBodyHeader? {
        let prefixOK = prefix.withUTF8Buffer { p in body.count > p.count + 20 && memcmp(body.baseAddress!, p.baseAddress!, p.count) == 0 }
        guard prefixOK, body[body.count - 1] == UInt8(ascii: "}") else { return nil }
        func number(_ end: inout Int) -> Int64? {
            var value: Int64 = 0, scale: Int64 = 1, digits = 0
            while end >= 0, (48...57).contains(body[end]) {
                // Up to 19 digits (nanosecond times have 19); overflow is a malformed body.
                guard digits < 19 else { return nil }
                let (term, o1) = Int64(body[end] - 48).multipliedReportingOverflow(by: scale)
                let (sum, o2) = value.addingReportingOverflow(term)
                guard !o1, !o2 else { return nil }
                value = sum
                digits += 1; end -= 1
                if digits < 19 { scale *= 10 }
            }
            return digits > 0 ? value : nil
        }
        func expect(_ text: StaticString, _ end: inout Int) -> Bool {
            text.withUTF8Buffer { bytes in
                let start = end + 1 - bytes.count
                guard start >= 0, memcmp(body.baseAddress! + start, bytes.baseAddress!, bytes.count) == 0 else { return false }
                end = start - 1
                return true
            }
        }
        var i = body.count - 1
        let format = expect(formatTwo, &i) ? 2 : 1
        if format == 1 { i = body.count - 2 }
        if format == 2 { guard i > 0, body[i] == UInt8(ascii: "\"") else { return nil }; i -= 1 }
        guard let time = number(&i) else { return nil }
        if format == 2 { guard i > 0, body[i] == UInt8(ascii: "\"") else { return nil }; i -= 1 }
        guard expect(timeKey, &i), let seq = number(&i), expect(seqKey, &i),
              i > 0, body[i] == UInt8(ascii: "\"") else { return nil }
        let kindEnd = i
        i -= 1
        while i >= 0, body[i] != UInt8(ascii: "\"") { i -= 1 }
        let kindStart = i + 1
        guard expect(kindKey, &i), i >= 8 else { return nil }
        return EventBodyHeader(kind: kindStart..<kindEnd, seq: seq, time: time, format: format)
    }
}
