import StasisGraphStore
import Testing

/// Writes in as few statements as possible: a put's channel rows and a task's writes each go in
/// one multi-row statement, the race check is part of the checkpoint's own insert, and a
/// group-commit batch runs without savepoints until one of its jobs fails. Invariants checked:
/// - a put refused for its parent fails alone: every other put of the same moment lands, and the
///   refused checkpoint keeps what it had;
/// - within one call, a write index given twice keeps the write that one-by-one inserts kept
///   (the first, or the last for special writes), and a channel given twice in one put is refused.
@Suite("graph store: batched writes")
struct GraphWriteBatchTests {
    typealias T = GraphStoreTests

    @Test("among concurrent puts, those refused for their parent fail alone; the rest land")
    func refusedPutFailsAlone() async throws {
        let f = try T.Fixture()
        for t in 0..<8 {
            try await f.graph.put(T.put("t\(t)", "1", values: ["v": T.bytes(5000, seed: UInt64(t))]))
        }
        // Every thread gets a good next step and a put racing on its first checkpoint with another parent.
        let refused = try await withThrowingTaskGroup(of: Bool.self) { group in
            for t in 0..<8 {
                group.addTask {
                    try await f.graph.put(T.put("t\(t)", "2", parent: "1", values: ["v": T.bytes(6000, seed: UInt64(100 + t))], versions: ["v": "2"]))
                    return false
                }
                group.addTask {
                    do {
                        try await f.graph.put(T.put("t\(t)", "1", parent: "0", values: ["v": T.bytes(7000, seed: UInt64(200 + t))], versions: ["v": "9"]))
                        return false
                    } catch GraphError.conflict { return true }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(refused == 8)
        #expect(try f.count("graph_checkpoints") == 16)
        for t in 0..<8 {
            let first = try #require(try f.graph.tuple(GraphKey(thread: "t\(t)", checkpoint: "1")))
            #expect(first.parent == nil)
            #expect(first.values.map(\.version) == ["1"])
            #expect(first.values.first?.value?.bytes == T.bytes(5000, seed: UInt64(t)))
            #expect(try f.graph.tuple(GraphKey(thread: "t\(t)"))?.values.first?.value?.bytes == T.bytes(6000, seed: UInt64(100 + t)))
        }
        // No value of a refused put was stored: version 9 of no thread exists.
        #expect(try f.store.catalog.database.read { db in
            try db.queryOne("SELECT COUNT(*) AS n FROM graph_channel_values WHERE version = '9'", [])?.int("n")
        } == 0)
    }

    @Test("an index given twice in one call keeps the first write, or the last special one; a channel twice in a put is refused")
    func repeatsInOneCall() async throws {
        let f = try T.Fixture()
        try await f.graph.put(T.put("t", "1"))
        let key = GraphKey(thread: "t", checkpoint: "1")
        func w(_ idx: Int64, _ v: String, channel: String = "ch") -> PendingWrite {
            PendingWrite(taskID: "task", index: idx, channel: channel, value: GraphValue(type: "str", bytes: Array(v.utf8)), taskPath: "p")
        }
        try await f.graph.putWrites(key, taskID: "task", taskPath: "p", writes: [w(0, "first"), w(0, "second"), w(1, "b")], replace: false)
        try await f.graph.putWrites(key, taskID: "task", taskPath: "p",
                                    writes: [w(-3, "interrupt 1", channel: "__interrupt__"), w(-3, "interrupt 2", channel: "__interrupt__")],
                                    replace: true)
        let t = try #require(try f.graph.tuple(key))
        #expect(t.pendingWrites.map { String(decoding: $0.value.bytes, as: UTF8.self) }.sorted() == ["b", "first", "interrupt 2"])

        var twice = T.put("t", "2", parent: "1", values: ["a": [1]])
        twice.newValues.append(ChannelUpdate(channel: "a", version: "1", value: GraphValue(type: "bytes", bytes: [2])))
        await #expect(throws: GraphError.invalidArgument(field: "new_values[1].channel", reason: "\"a\" comes twice: send one value per channel")) {
            try await f.graph.put(twice)
        }
        #expect(try f.count("graph_checkpoints") == 1)
    }
}
