import Testing
import StasisJSON
@testable import StasisSessions

/// Invariants checked: the fast header reader agrees with the full JSON decoder on every body the
/// encoder writes in both formats (including 19-digit times and data that itself holds a "kind"
/// key), and refuses bodies that are not in canonical event form.
@Suite("Event body header")
struct EventBodyHeaderTests {
    @Test("agrees with the decoder")
    func agrees() {
        let events = [
            HistoryEvent(seq: 0, time: 1_795_917_696_711_124_992, kind: .commandStarted, data: ["command": "ls"]),
            HistoryEvent(seq: 123_456, time: 9_000_000_000_000_000_000, kind: .note, data: ["text": "a \"kind\":\"x\""]),
            HistoryEvent(seq: 7, time: 0, kind: .toolCall, data: ["name": "t", "arguments": ["kind": "fake", "seq": 99]]),
        ]
        for e in events + events.map({ var v1 = $0; v1.format = 1; return v1 }) {
            let body = e.body
            #expect(HistoryEvent.decode(body: body) == e)
            let h = body.withUnsafeBytes { EventBodyHeader.parse($0) }
            #expect(h?.seq == e.seq && h?.time == e.time && h?.format == e.format)
            #expect(h.map { String(decoding: body[$0.kind], as: UTF8.self) } == e.kind.rawValue)
        }
        for bad in [#"{"kind":"note","seq":1,"time":2}"#, #"{"data":{},"kind":"note","seq":1,"time":99999999999999999999}"#,
                    #"{"data":{},"kind":"note","seq":x,"time":2}"#, "{}",
                    #"{"data":{},"kind":"note","seq":1,"time":"2}"#, #"{"data":{},"kind":"note","seq":1,"time":2","v":2}"#,
                    #"{"data":{},"kind":"note","seq":1,"time":2,"v":2}"#, #"{"data":{},"kind":"note","seq":1,"time":"99999999999999999999","v":2}"#] {
            #expect(Array(bad.utf8).withUnsafeBytes { EventBodyHeader.parse($0) } == nil)
        }
    }
}
