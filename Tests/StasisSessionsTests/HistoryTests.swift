import Foundation
import PropertyBased
import Testing
import StasisCatalog
import StasisJSON
import StasisStore
@testable import StasisSessions

/// Invariants checked:
/// - appended events come back in order, bit for bit, with consecutive positions, also across
///   batches and 256-event tile boundaries; big values go to the blob store and come back;
/// - a bad event (not JSON, unknown kind, missing or mistyped field) is refused naming its line
///   and field, and nothing of its batch is written;
/// - `verifyHistory` is clean on an untouched history and, after any one edited, dropped,
///   reordered or inserted event (random position, random tampering: a property test), names
///   exactly that position; a careful rewrite that recomputes hashes is caught by the next event's
///   chain or by the signed tree head of a later checkpoint;
/// - inclusion proofs verify against the current head and against checkpoints' signed heads.
@Suite("History: append, verify, prove")
struct HistoryTests {
    @Test("append and read back across batches and tiles")
    func appendAndRead() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession(labels: ["agent": "test"]).id
        var rng = Rng(state: 1)
        var all: [EventInput] = []
        for batch in [1, 255, 1, 300, 43] {
            let events = randomEvents(batch, &rng)
            let range = try t.sessions.append(s, events)
            #expect(range.lowerBound == Int64(all.count) && range.count == batch)
            all += events
        }
        let back = try t.sessions.events(s)
        #expect(back.count == all.count)
        #expect(back.map(\.seq) == (0..<Int64(all.count)).map { $0 })
        for (e, input) in zip(back, all) {
            #expect(e.kind == input.kind && e.time == input.time && e.data == input.data)
        }
        #expect(try t.sessions.events(s, EventQuery(last: 10)).map(\.seq) == Array(590..<600))
        #expect(try t.sessions.events(s, EventQuery(since: 598)).count == 2)
        #expect(try t.sessions.events(s, EventQuery(kinds: [.note])).allSatisfy { $0.kind == .note })
        #expect(try t.sessions.verifyHistory(s).ok)
        // Tree head through tiles equals the root of all leaves.
        let leaves = back.map { MerkleTree.leafHash($0.body) }
        #expect(try t.sessions.treeHead(s).root == StoreKey.hex(MerkleTree.root(leaves[...])))
    }

    @Test("large values are kept as blobs and resolved")
    func largeValues() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        let big = String(repeating: "output line\n", count: 2000)
        try t.sessions.append(s, [EventInput(kind: .output, data: ["stream": "stdout", "data": .string(big)])])
        let e = try #require(try t.sessions.events(s).first)
        #expect(e.data["data"]?["$blob"] != nil)
        #expect(try t.sessions.resolvedString(e.data["data"]!) == big)
        #expect(try t.sessions.verifyHistory(s).ok)
    }

    @Test("bad events name their line and field, and append nothing")
    func badEvents() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        let cases: [(String, String)] = [
            ("not json", "invalid JSON"),
            ("[1]", "JSON object"),
            (#"{"command":"x"}"#, "missing field \"kind\""),
            (#"{"kind":"launch"}"#, "unknown kind"),
            (#"{"kind":"command.started"}"#, "needs field \"command\""),
            (#"{"kind":"command.exited","code":"zero"}"#, "field \"code\""),
            (#"{"kind":"output","stream":"stdin","data":"x"}"#, "stdout"),
            (#"{"kind":"note","text":"x","time":"yesterday"}"#, "field \"time\""),
        ]
        for (line, expected) in cases {
            #expect {
                _ = try EventInput.parse(line, line: 7)
            } throws: { "\($0)".contains(expected) && "\($0)".contains("line 7") }
        }
        #expect(try t.sessions.historySize(s) == 0)
        #expect(throws: HistoryError.self) { try t.sessions.append("ffffffff", [EventInput(kind: .note, data: ["text": "x"])]) }
    }

    enum Tamper: CaseIterable { case editBody, dropEvent, swapBodies, insertForged, editTimeColumn }

    /// Applies one naive tampering at position k directly in the catalog; returns the position
    /// `verify` must name.
    static func tamper(_ t: TemporaryStore, _ session: String, _ how: Tamper, at k: Int64, size: Int64) throws -> Int64 {
        try t.sessions.store.catalog.database.write { db in
            switch how {
            case .editBody:
                var bytes = try #require(try db.queryOne("SELECT body FROM events WHERE session_id = ? AND seq = ?", session, k)).blob("body")
                let i = bytes.lastIndex(of: UInt8(ascii: "}"))! - 1   // inside the time digits
                bytes[i] = bytes[i] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
                try db.execute("UPDATE events SET body = ? WHERE session_id = ? AND seq = ?", bytes, session, k)
            case .dropEvent:
                try db.execute("DELETE FROM events WHERE session_id = ? AND seq = ?", session, k)
            case .swapBodies:
                let j = k + 1
                let a = try #require(try db.queryOne("SELECT body, leaf, chain, time_ns, kind FROM events WHERE session_id = ? AND seq = ?", session, k))
                let b = try #require(try db.queryOne("SELECT body, leaf, chain, time_ns, kind FROM events WHERE session_id = ? AND seq = ?", session, j))
                for (seq, row) in [(k, b), (j, a)] {
                    try db.execute("UPDATE events SET body = ?, leaf = ?, chain = ?, time_ns = ?, kind = ? WHERE session_id = ? AND seq = ?",
                                   row["body"], row["leaf"], row["chain"], row["time_ns"], row["kind"], session, seq)
                }
            case .insertForged:
                // Shift events k… up by one and put a forged event at k.
                for seq in stride(from: size - 1, through: k, by: -1) {
                    try db.execute("UPDATE events SET seq = seq + 1 WHERE session_id = ? AND seq = ?", session, seq)
                }
                let forged = HistoryEvent(seq: k, time: 1, kind: .note, data: ["text": "forged"])
                try db.execute("INSERT INTO events(session_id, seq, time_ns, kind, body, leaf, chain) VALUES (?, ?, 1, 'note', ?, ?, ?)",
                               session, k, forged.body, MerkleTree.leafHash(forged.body), [UInt8](repeating: 7, count: 32))
            case .editTimeColumn:
                try db.execute("UPDATE events SET time_ns = time_ns + 1 WHERE session_id = ? AND seq = ?", session, k)
            }
        }
        return k
    }

    @Test("any single tampering is named at its position (property)")
    func tamperingIsNamed() async throws {
        await propertyCheck(count: 60, input: Gen.int(in: 2...600), Gen.uint64(), Gen.int(in: 0...4)) { size, seed, mode in
            do {
                let t = try TemporaryStore()
                let s = try t.sessions.createSession().id
                var rng = Rng(state: seed)
                try t.sessions.append(s, randomEvents(size, &rng))
                let how = Tamper.allCases[mode]
                let k = Int64(rng.below(how == .swapBodies ? size - 1 : size))
                #expect(try t.sessions.verifyHistory(s).ok)
                let expected = try Self.tamper(t, s, how, at: k, size: Int64(size))
                let r = try t.sessions.verifyHistory(s)
                #expect(!r.ok, "\(how) at \(k) of \(size) went unnoticed")
                #expect(r.firstBadSeq == expected, "\(how) at \(k) of \(size): named \(String(describing: r.firstBadSeq)): \(r.problems)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test("a careful rewrite is caught by the chain or by a checkpoint's signed tree head")
    func carefulRewrite() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        var rng = Rng(state: 9)
        try t.sessions.append(s, randomEvents(40, &rng))
        let c = try t.sessions.createCheckpoint(s, CheckpointSpec(blobs: [.init(name: "config", path: t.write([1, 2, 3], "cfg"))]))
        try t.sessions.append(s, randomEvents(10, &rng))
        // Rewrite event 5 and recompute its leaf and the whole chain after it, as an attacker
        // with write access to the catalog would.
        try t.sessions.store.catalog.database.write { db in
            let forged = HistoryEvent(seq: 5, time: 5, kind: .note, data: ["text": "nothing happened here"])
            var chain = try #require(try db.queryOne("SELECT chain FROM events WHERE session_id = ? AND seq = 4", s)).blob("chain")
            try db.execute("UPDATE events SET body = ?, time_ns = 5, kind = 'note' WHERE session_id = ? AND seq = 5", forged.body, s)
            for row in try db.query("SELECT seq, body FROM events WHERE session_id = ? AND seq >= 5 ORDER BY seq", s) {
                let leaf = MerkleTree.leafHash(try row.blob("body"))
                chain = HistoryHashing.chain(previous: chain, leaf: leaf)
                try db.execute("UPDATE events SET leaf = ?, chain = ? WHERE session_id = ? AND seq = ?", leaf, chain, s, try row.int("seq"))
            }
        }
        let r = try t.sessions.verifyHistory(s)
        #expect(!r.ok)
        #expect(r.problems.contains { $0.contains(c.id) && $0.contains("rewritten") })
    }

    @Test("an event that does not decode (an unknown kind, an edited body) is an error naming its position, never a silent gap")
    func unreadableEventsAreNamed() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        var rng = Rng(state: 11)
        try t.sessions.append(s, randomEvents(12, &rng))
        #expect(try t.sessions.events(s).count == 12)
        try t.sessions.store.catalog.database.write { db in
            let body = Array(#"{"data":{},"kind":"teleport","seq":7,"time":7}"#.utf8)
            try db.execute("UPDATE events SET body = ?, kind = 'teleport' WHERE session_id = ? AND seq = 7", body, s)
        }
        #expect { _ = try t.sessions.events(s) } throws: { error in
            guard case HistoryError.unreadableEvent(_, let seq) = error else { return false }
            return seq == 7 && "\(error)".contains("history verify")
        }
        // Queries that do not reach it still answer.
        #expect(try t.sessions.events(s, EventQuery(last: 3)).map(\.seq) == [9, 10, 11])
        #expect(!(try t.sessions.verifyHistory(s)).ok)
    }

    @Test("the row scan that other engines' verify uses reads what SQLite's fast scan reads")
    func rowScan() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        var rng = Rng(state: 5)
        try t.sessions.append(s, randomEvents(300, &rng))
        func scan(_ db: any CatalogConnection) throws -> [[[UInt8]]] {
            var columns: [[[UInt8]]] = []
            try SessionStore.forEachStoredEvent(db, session: s) { e in
                columns.append([withUnsafeBytes(of: e.seq) { Array($0) }, withUnsafeBytes(of: e.time) { Array($0) },
                                Array(e.kind), Array(e.body), Array(e.leaf), Array(e.chain)])
            }
            return columns
        }
        try t.sessions.store.catalog.database.read { db in
            let fast = try scan(db), rows = try scan(ProtocolOnly(base: db))
            #expect(fast.count == 300 && rows == fast)
        }
    }

    @Test("inclusion proofs against the current head and a checkpoint's signed head")
    func proofs() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        var rng = Rng(state: 3)
        try t.sessions.append(s, randomEvents(700, &rng))
        let c = try t.sessions.createCheckpoint(s, CheckpointSpec(blobs: [.init(name: "config", path: t.write([9], "cfg"))]))
        try t.sessions.append(s, randomEvents(5, &rng))
        for seq: Int64 in [0, 255, 256, 511, 699] {
            let p = try t.sessions.prove(s, seq: seq)
            #expect(p.verified && p.checkpoint == c.id && p.treeSize == 700)
            #expect(p.path.count <= 10)
        }
        let late = try t.sessions.prove(s, seq: 703)
        #expect(late.verified && late.checkpoint == nil && late.treeSize == 706)
        #expect(throws: HistoryError.self) { _ = try t.sessions.prove(s, seq: 706) }
        #expect(throws: HistoryError.self) { _ = try t.sessions.prove(s, seq: 703, checkpoint: c.id) }
        var forged = try t.sessions.prove(s, seq: 10)
        forged.seq = 11
        #expect(!forged.check())
    }
}

/// A connection seen only through the catalog protocol, as another engine's is: code with a
/// fast path for SQLite takes its generic path.
struct ProtocolOnly: CatalogConnection {
    let base: any CatalogConnection
    var engine: CatalogEngine { base.engine }
    func execute(_ sql: String, _ arguments: [CatalogValue]) throws(CatalogError) -> Int { try base.execute(sql, arguments) }
    func query(_ sql: String, _ arguments: [CatalogValue]) throws(CatalogError) -> [CatalogRow] { try base.query(sql, arguments) }
    func forEachRow(_ sql: String, _ arguments: [CatalogValue], _ body: (CatalogRow) throws -> Void) throws { try base.forEachRow(sql, arguments, body) }
    func executeScript(_ sql: String) throws(CatalogError) { try base.executeScript(sql) }
}
