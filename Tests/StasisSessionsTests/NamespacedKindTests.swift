import StasisJSON
import Testing
@testable import StasisSessions

/// Event kinds other tools define, `x-NAME.kind` (Formats/history.md, "Namespaced kinds"):
/// well-formed names are accepted with any JSON object of fields, appended, chained, verified,
/// filtered by kind and replayed generically beside built-in events; malformed names are refused
/// naming the line, and nothing is appended.
@Suite("history: namespaced event kinds")
struct NamespacedKindTests {
    @Test("x-NAME.kind names: lowercase letters, digits and '-', a '.', then also '.'; at most 128 bytes")
    func names() {
        for good in ["x-langgraph.step", "x-langgraph.checkpoint.saved", "x-a1-b.c-2", "x-" + String(repeating: "a", count: 124) + ".s"] {
            #expect(EventKind(rawValue: good)?.isNamespaced == true, "\(good)")
        }
        for bad in ["x-langgraph", "x-.step", "x-LangGraph.step", "x-a.b.", "x-a.", "x-a.B", "x-a b.c", "x-a_b.c", "langgraph.step",
                    "x-" + String(repeating: "a", count: 125) + ".s", "teleport", ""] {
            #expect(EventKind(rawValue: bad) == nil, "\(bad)")
        }
        #expect(EventKind(rawValue: "note") == .note && !EventKind.note.isNamespaced)
    }

    @Test("namespaced events are appended, verified, filtered and replayed beside built-in ones")
    func appendVerifyReplay() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        let lines = [
            #"{"kind":"message","role":"user","content":"list the files"}"#,
            #"{"kind":"x-langgraph.step","node":"agent","checkpoint_id":"1f0-abc","step":3}"#,
            #"{"kind":"command.started","command":"ls"}"#,
            #"{"kind":"x-langgraph.interrupt"}"#,
        ]
        try t.sessions.append(s, try lines.enumerated().map { try EventInput.parse($0.element, line: $0.offset + 1) })
        let events = try t.sessions.events(s)
        #expect(events.map(\.kind.rawValue) == ["message", "x-langgraph.step", "command.started", "x-langgraph.interrupt"])
        #expect(events[1].data == ["node": "agent", "checkpoint_id": "1f0-abc", "step": 3])
        #expect(try t.sessions.verifyHistory(s).ok)
        let only = try t.sessions.events(s, EventQuery(kinds: [EventKind(rawValue: "x-langgraph.step")!]))
        #expect(only.map(\.seq) == [1])

        let frames = ReplayRenderer(styled: false).frames(events)
        #expect(frames[1].text == "[x-langgraph.step] checkpoint_id=1f0-abc node=agent step=3\r\n")
        #expect(frames[3].text == "[x-langgraph.interrupt]\r\n")
        #expect(frames[2].text == "$ ls\r\n")
    }

    @Test("a malformed kind is refused naming its line, and nothing is appended")
    func refused() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        #expect {
            _ = try EventInput.parse(#"{"kind":"x-LangGraph.step","node":"a"}"#, line: 4)
        } throws: { "\($0)".contains("line 4") && "\($0)".contains("x-NAME.kind") }
        #expect(try t.sessions.historySize(s) == 0)
    }
}
