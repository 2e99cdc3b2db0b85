import Foundation
import Testing
import StasisJSON
import StasisStore
@testable import StasisSessions

/// Invariants checked:
/// - a `checkpoint` or `restore` event may be appended only naming an existing checkpoint of
///   its own session; a forged one (unknown id, a prefix, another session's checkpoint) is
///   refused naming the event, and nothing is appended; the first `restore` event of a session
///   forked from another session's checkpoint (labels `forked_from`, `checkpoint`) is accepted;
/// - a line that is not UTF-8 is refused naming the line and the byte offset, never replaced;
/// - label names and values are checked (charset, length, no control, separator or bidi
///   characters) for new sessions and for label changes, and a refused label changes nothing.
@Suite("A faithful history")
struct FaithfulHistoryTests {
    func checkpointed(_ t: TemporaryStore) throws -> (session: String, checkpoint: String) {
        let s = try t.sessions.createSession().id
        let c = try t.sessions.createCheckpoint(s, CheckpointSpec(blobs: [.init(name: "state", path: t.write([1, 2, 3], "state"))]))
        return (s, c.id)
    }

    func refusedLine(_ body: () throws(HistoryError) -> Void) -> (Int, String)? {
        do { try body(); return nil } catch {
            guard case .badEvent(let line, let message) = error else { Issue.record("\(error)"); return nil }
            return (line, message)
        }
    }

    @Test("checkpoint and restore events must name a checkpoint of their session")
    func forgedCheckpointEvents() throws {
        let t = try TemporaryStore()
        let (s, c) = try checkpointed(t)
        let (other, otherCheckpoint) = try checkpointed(t)
        let size = try t.sessions.historySize(s)
        let note = EventInput(kind: .note, data: ["text": "fine"])
        let forged = String(repeating: "ab", count: 32)
        for (kind, id) in [(EventKind.checkpoint, forged), (.restore, forged), (.checkpoint, String(c.prefix(12))),
                           (.checkpoint, otherCheckpoint), (.restore, otherCheckpoint)] {
            let refused = refusedLine { () throws(HistoryError) in
                try t.sessions.append(s, [note, EventInput(kind: kind, data: ["checkpoint": .string(id)])])
            }
            #expect(refused?.0 == 2, "\(kind) \(id)")
            #expect(refused?.1.contains("checkpoint") == true)
        }
        #expect(try t.sessions.historySize(s) == size)
        #expect(try t.sessions.append(s, [EventInput(kind: .restore, data: ["checkpoint": .string(c), "sandbox": "x"])]).count == 1)
        #expect(try t.sessions.append(other, [EventInput(kind: .checkpoint, data: ["checkpoint": .string(otherCheckpoint)])]).count == 1)
        #expect(try t.sessions.verifyHistory(s).ok)
    }

    @Test("a fork's first restore event may name the checkpoint it was forked from")
    func fork() throws {
        let t = try TemporaryStore()
        let (s, c) = try checkpointed(t)
        let restore = EventInput(kind: .restore, data: ["checkpoint": .string(c)])
        let fork = try t.sessions.createSession(labels: ["forked_from": s, "checkpoint": c]).id
        #expect(try t.sessions.append(fork, [restore]) == 0..<1)
        // Only as its first event, and only for the checkpoint its labels name.
        #expect(refusedLine { () throws(HistoryError) in try t.sessions.append(fork, [restore]) }?.0 == 1)
        let liar = try t.sessions.createSession(labels: ["forked_from": s]).id
        #expect(refusedLine { () throws(HistoryError) in try t.sessions.append(liar, [restore]) } != nil)
    }

    @Test("a line that is not UTF-8 is refused, naming the line and offset")
    func notUTF8() throws {
        var bytes = Array(#"{"kind":"note","text":"caf"#.utf8)
        let offset = bytes.count
        bytes += [0xE9] + Array(#""}"#.utf8)
        do { _ = try EventInput.parse(utf8: bytes, line: 7); Issue.record("accepted") } catch {
            guard case .badEvent(7, let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("UTF-8") && message.contains("offset \(offset)"))
        }
        let ok = try EventInput.parse(utf8: Array(#"{"kind":"note","text":"café ✓"}"#.utf8), line: 1)
        #expect(ok.data["text"]?.stringValue == "café ✓")
    }

    @Test("labels: names and values are checked, and a refused label changes nothing")
    func labels() throws {
        let t = try TemporaryStore()
        for labels: [String: String] in [["agent": "a\nb"], ["agent": "a\rb"], ["agent": "\u{1B}[31m"], ["agent": "x\u{202E}y"],
                                         ["agent": "a\u{2028}b"], ["bad name": "x"], ["": "x"], ["é": "x"], ["-x": "y"],
                                         [String(repeating: "a", count: 129): "x"], ["agent": String(repeating: "v", count: 1025)]] {
            do { _ = try t.sessions.createSession(labels: labels); Issue.record("accepted \(labels)") } catch {
                guard case .badArgument(let field, _) = error else { Issue.record("\(error)"); continue }
                #expect(field.hasPrefix("--label"))
                #expect(!error.description.contains("\n"))
            }
        }
        #expect(try t.sessions.sessions().isEmpty)
        let s = try t.sessions.createSession(labels: ["agent": "coder ✓", "forked_from": "x", "k8s.io/app-name": "v:1"])
        do { try t.sessions.setLabels(s.id, ["agent": "x\ny"]); Issue.record("accepted") } catch {}
        #expect(try t.sessions.session(s.id).labels["agent"] == "coder ✓")
    }
}
