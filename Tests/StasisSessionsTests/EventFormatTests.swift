import Foundation
import Testing
import StasisJSON
import StasisStore
@testable import StasisSessions

/// Invariants checked (Formats/history.md, "Events"; Formats/canonical-json.md, version 2):
/// - new events and checkpoint records are RFC 8785 JSON, times as decimal strings;
/// - a history written in format 1 before this version keeps verifying, and goes on in format 2
///   behind it: verify, query, export, bundle verify and import all read the mixed history;
/// - a value JCS cannot write exactly (an integer beyond ±2^53 that a double would round) is
///   refused at input, naming the line and the field, and nothing is appended; a checkpoint
///   whose meta holds one is refused before anything is captured.
@Suite("Event and record formats")
struct EventFormatTests {
    @Test("new events and records are RFC 8785, times as strings")
    func written() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        _ = try t.sessions.append(s, [EventInput(kind: .note, time: 1_795_900_000_000_000_123, data: ["text": "hi", "ratio": .double(1e-7)])])
        let c = try t.sessions.createCheckpoint(s, CheckpointSpec(blobs: [.init(name: "state", path: t.write([1], "state"))], meta: ["downtime_ms": .double(41.5)]))
        let events = try t.sessions.events(s)
        #expect(events.map(\.format) == [2, 2])
        #expect(String(decoding: events[0].body, as: UTF8.self)
                == #"{"data":{"ratio":1e-7,"text":"hi"},"kind":"note","seq":0,"time":"1795900000000000123","v":2}"#)
        let record = try t.sessions.checkpoint(c.id).record
        #expect(record.formatVersion == 2)
        #expect(String(decoding: record.canonicalBytes, as: UTF8.self).contains(#""created":"\#(record.createdAt)""#))
        #expect(try t.sessions.verifyHistory(s).ok)
    }

    @Test("a format-1 history keeps verifying and goes on in format 2; bundles carry both")
    func mixed() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        let key = try t.sessions.signingKey()
        let old = (0..<3).map { i in
            SessionStore.PreparedEvent(kind: .note, time: 1_790_000_000_000_000_000 + Int64(i), data: ["text": .string("old \(i)")], format: 1)
        }
        _ = try t.sessions.write { db in try SessionStore.insertEvents(db, session: s, old, key: key) }
        _ = try t.sessions.createCheckpoint(s, CheckpointSpec(blobs: [.init(name: "state", path: t.write([1, 2], "state"))]))
        _ = try t.sessions.append(s, [EventInput(kind: .note, data: ["text": "new"])])

        let events = try t.sessions.events(s)
        #expect(events.map(\.format) == [1, 1, 1, 2, 2])
        #expect(events[0].time == 1_790_000_000_000_000_000 && events[2].data["text"] == "old 2")
        #expect(String(decoding: events[0].body, as: UTF8.self).hasSuffix(#","time":1790000000000000000}"#))
        let verification = try t.sessions.verifyHistory(s)
        #expect(verification.ok, "\(verification.problems)")

        let file = t.file("mixed.bundle")
        _ = try t.sessions.exportBundle(s, to: file)
        _ = try SessionStore.verifyBundle(at: file)
        let other = try TemporaryStore()
        _ = try other.sessions.importBundle(at: file)
        #expect(try other.sessions.events(s).map(\.body) == events.map(\.body))
        #expect(try other.sessions.verifyHistory(s).ok)
    }

    @Test("integers JCS cannot hold are refused, naming the line and field; nothing is appended")
    func refused() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        let lines = [#"{"kind":"note","text":"fine","n":9007199254740994}"#, #"{"kind":"note","text":"big","n":[1,9007199254740993]}"#]
        do {
            _ = try t.sessions.append(s, try lines.enumerated().map { i, l throws(HistoryError) in try EventInput.parse(l, line: i + 1) })
            Issue.record("an integer beyond 2^53 was accepted")
        } catch {
            guard case .badEvent(let line, let message) = error else { Issue.record("\(error)"); return }
            #expect(line == 2 && message.contains("/n/1") && message.contains("write it as a string"), "\(message)")
        }
        #expect(try t.sessions.events(s).isEmpty)
        // One a double holds exactly is kept, as JCS writes it.
        _ = try t.sessions.append(s, [try EventInput.parse(lines[0], line: 1)])
        #expect(try t.sessions.events(s).first?.data["n"]?.intValue == 9_007_199_254_740_994)

        #expect(throws: HistoryError.self) {
            _ = try t.sessions.createCheckpoint(s, CheckpointSpec(blobs: [.init(name: "state", path: t.write([1], "state"))],
                                                                  meta: ["pages": .int(Int64.max)]))
        }
        #expect(try t.sessions.checkpoints(s).isEmpty)
    }
}
