import Foundation
import StasisStoreTestSupport
import PropertyBased
import StasisCatalog
import StasisGraphStore
import StasisJSON
import StasisStore
import Testing

/// The LangGraph checkpoint store under the daemon. Invariants checked:
/// - every value (inline or chunked) and every write reads back bit-exact, for the checkpoint
///   asked for or the latest of its thread and namespace;
/// - a value that grows step by step costs about its growth, not its size, per step;
/// - writes are idempotent per (task, index) and special writes replace;
/// - a second writer storing the same checkpoint id with another parent is refused, changing nothing;
/// - delete, delete-for-runs, prune and copy keep exactly what they should, and values and
///   chunks nothing refers to any more are gone;
/// - damaged chunks are reported as damage, naming the channel, never returned;
/// - bad arguments name the field and change nothing;
/// - concurrent puts all land (group commit);
/// - two graph stores writing and pruning one catalog in turn (two daemons on a shared catalog)
///   never store a value without its chunks: every thread reads back bit-exact from the catalog.
@Suite("graph store")
struct GraphStoreTests {
    final class Fixture: Sendable {
        let root: String
        let store: ContentStore
        let graph: GraphStore

        init() throws {
            root = NSTemporaryDirectory() + "stasis-graph-" + UUID().uuidString
            store = try TestStores.create(at: root)
            graph = try GraphStore(store: store)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func count(_ table: String) throws -> Int {
            Int(try store.catalog.database.read { db in try db.queryOne("SELECT COUNT(*) AS n FROM \(table)", [])?.int("n") } ?? 0)
        }
    }

    static func bytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var state = seed &+ 0x9E3779B97F4A7C15
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    static func put(_ thread: String, _ id: String, parent: String? = nil, ns: String = "", values: [String: [UInt8]] = [:],
                    versions: [String: String]? = nil, metadata: String = "{}") -> CheckpointPut {
        let v = versions ?? values.mapValues { _ in "1" }
        return CheckpointPut(
            key: GraphKey(thread: thread, namespace: ns, checkpoint: id), parent: parent,
            checkpoint: GraphValue(type: "msgpack", bytes: Array("cp-\(id)".utf8)),
            metadata: GraphValue(type: "msgpack", bytes: Array("md-\(id)".utf8)), metadataJSON: metadata,
            versions: v,
            newValues: values.map { ChannelUpdate(channel: $0.key, version: v[$0.key]!, value: GraphValue(type: "bytes", bytes: $0.value)) })
    }

    @Test("values inline and chunked read back bit-exact; latest and by id")
    func roundTrip() async throws {
        let f = try Fixture()
        let small = Array("hello".utf8), large = Self.bytes(200_000, seed: 1)
        try await f.graph.put(Self.put("t", "1", values: ["a": small, "b": large]))
        try await f.graph.put(Self.put("t", "2", parent: "1", values: ["a": Array("next".utf8)], versions: ["a": "2", "b": "1"]))
        let latest = try #require(try f.graph.tuple(GraphKey(thread: "t")))
        #expect(latest.key.checkpoint == "2")
        #expect(latest.parent == "1")
        #expect(Dictionary(uniqueKeysWithValues: latest.values.map { ($0.channel, $0.value!.bytes) }) == ["a": Array("next".utf8), "b": large])
        let first = try #require(try f.graph.tuple(GraphKey(thread: "t", checkpoint: "1")))
        #expect(first.values.first { $0.channel == "a" }?.value?.bytes == small)
        #expect(first.checkpoint.bytes == Array("cp-1".utf8))
        #expect(try f.graph.tuple(GraphKey(thread: "t", namespace: "child")) == nil)
        #expect(try f.graph.tuple(GraphKey(thread: "nobody")) == nil)
    }

    @Test("random values of any size round-trip bit-exact", .timeLimit(.minutes(2)))
    func randomValues() async throws {
        let f = try Fixture()
        await propertyCheck(count: 40, input: Gen.int(in: 0...120_000), Gen.uint64()) { size, seed in
            let value = Self.bytes(size, seed: seed)
            let thread = "p\(seed)-\(size)"
            do {
                try f.graph.putSync(Self.put(thread, "1", values: ["v": value]))
                let back = try f.graph.tuple(GraphKey(thread: thread))
                #expect(back?.values.first?.value?.bytes == value)
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test("a value growing by 1 KiB per step costs about 1 KiB per step")
    func growingValueDedups() async throws {
        let f = try Fixture()
        var list: [UInt8] = []
        var stored: Int64 = 0
        for step in 0..<100 {
            list += Self.bytes(1024, seed: UInt64(step))
            stored += try await f.graph.put(Self.put("t", String(format: "%04d", step), parent: step == 0 ? nil : String(format: "%04d", step - 1),
                                                     values: ["messages": list], versions: ["messages": "\(step)"]))
        }
        // Storing every step whole would be 5 MiB; chunking stores the growth plus the edges.
        #expect(stored < 5 * Int64(list.count), "stored \(stored) new bytes for a \(list.count)-byte value")
        #expect(try f.graph.tuple(GraphKey(thread: "t"))?.values.first?.value?.bytes == list)
        #expect(try f.graph.tuple(GraphKey(thread: "t", checkpoint: "0042"))?.values.first?.value?.bytes == Array(list[0..<43 * 1024]))
    }

    @Test("writes: first write per task and index wins; special writes replace")
    func writes() async throws {
        let f = try Fixture()
        try await f.graph.put(Self.put("t", "1"))
        let key = GraphKey(thread: "t", checkpoint: "1")
        func w(_ idx: Int64, _ v: String, channel: String = "ch") -> PendingWrite {
            PendingWrite(taskID: "task", index: idx, channel: channel, value: GraphValue(type: "str", bytes: Array(v.utf8)), taskPath: "p")
        }
        try await f.graph.putWrites(key, taskID: "task", taskPath: "p", writes: [w(0, "a"), w(1, "b")], replace: false)
        try await f.graph.putWrites(key, taskID: "task", taskPath: "p", writes: [w(0, "changed"), w(1, "changed")], replace: false)
        try await f.graph.putWrites(key, taskID: "task", taskPath: "p", writes: [w(-3, "interrupt 1", channel: "__interrupt__")], replace: true)
        try await f.graph.putWrites(key, taskID: "task", taskPath: "p", writes: [w(-3, "interrupt 2", channel: "__interrupt__")], replace: true)
        let t = try #require(try f.graph.tuple(key))
        #expect(t.pendingWrites.map { String(decoding: $0.value.bytes, as: UTF8.self) }.sorted() == ["a", "b", "interrupt 2"])
        let big = Self.bytes(50_000, seed: 9)
        try await f.graph.putWrites(key, taskID: "other", taskPath: "", writes: [PendingWrite(taskID: "other", index: 0, channel: "c", value: GraphValue(type: "bytes", bytes: big), taskPath: "")], replace: false)
        #expect(try f.graph.tuple(key)?.pendingWrites.first { $0.taskID == "other" }?.value.bytes == big)
    }

    @Test("a second writer with another parent is refused and changes nothing")
    func conflictingWriter() async throws {
        let f = try Fixture()
        try await f.graph.put(Self.put("t", "1"))
        try await f.graph.put(Self.put("t", "2", parent: "1", values: ["a": [1]]))
        await #expect(throws: GraphError.self) {
            try await f.graph.put(Self.put("t", "2", parent: "0", values: ["a": [2]]))
        }
        #expect(try f.graph.tuple(GraphKey(thread: "t"))?.values.first?.value?.bytes == [1])
        // The same put again (a retry after a lost reply) is fine.
        try await f.graph.put(Self.put("t", "2", parent: "1", values: ["a": [1]]))
    }

    @Test("delete, prune, delete-for-runs and copy keep exactly what they should; garbage goes")
    func deletion() async throws {
        let f = try Fixture()
        let big = Self.bytes(100_000, seed: 3)
        for (i, ns) in ["", "child"].enumerated() {
            try await f.graph.put(Self.put("a", "1", ns: ns, values: ["v": big], metadata: "{\"run_id\": \"r1\"}"))
            try await f.graph.put(Self.put("a", "2", parent: "1", ns: ns, values: ["v": big + [UInt8(i)]], versions: ["v": "2"], metadata: "{\"run_id\": \"r2\"}"))
            try await f.graph.put(Self.put("a", "3", parent: "2", ns: ns, values: ["w": [7]], versions: ["v": "2", "w": "1"], metadata: "{\"run_id\": \"r2\"}"))
        }
        #expect(try await f.graph.copyThread(from: "a", to: "b") == 6)
        await #expect(throws: GraphError.self) { try await f.graph.copyThread(from: "a", to: "b") }
        #expect(try await f.graph.prune(["a"], strategy: .keepLatest) == 4)
        #expect(try f.graph.list(CheckpointQuery(thread: "a")).map(\.checkpoint) == ["3", "3"])
        let kept = try #require(try f.graph.tuple(GraphKey(thread: "a")))
        #expect(kept.values.first { $0.channel == "v" }?.value?.bytes == big + [0])
        #expect(try f.graph.tuple(GraphKey(thread: "b", checkpoint: "1"))?.values.first?.value?.bytes == big)
        #expect(try await f.graph.deleteRuns(["r1"]) == 2)  // b's two run-1 checkpoints
        #expect(try f.graph.list(CheckpointQuery(thread: "b")).count == 4)
        #expect(try f.graph.tuple(GraphKey(thread: "b", checkpoint: "2"))?.values.first?.value?.bytes == big + [0])
        #expect(try await f.graph.deleteThreads(["a", "b"]) == 6)
        for table in ["graph_checkpoints", "graph_channel_values", "graph_writes", "graph_values", "graph_chunks"] {
            #expect(try f.count(table) == 0, "\(table) still has rows")
        }
        // The chunk cache forgot the deleted chunks: storing the value again stores its chunks again.
        try await f.graph.put(Self.put("c", "1", values: ["v": big]))
        #expect(try f.graph.tuple(GraphKey(thread: "c"))?.values.first?.value?.bytes == big)
    }

    @Test("two graph stores on one catalog, putting (whole or as deltas) and pruning interleaved, read back bit-exact")
    func twoWritersInterleaved() async throws {
        let f = try Fixture()
        // Another daemon on the same catalog (another host on a shared PostgreSQL, or `stasis`
        // pruning from the command line): its own writer and its own caches.
        let other = try GraphStore(store: try ContentStore.open(at: f.root))
        let stores = [f.graph, other]
        // Every thread starts with the same bytes and grows by bytes of its own, so threads share
        // chunks and a deleted thread that grows again needs exactly the chunks its delete removed.
        let shared = Self.bytes(40_000, seed: 77)
        func value(_ thread: Int, step: Int) -> [UInt8] {
            shared + (0..<step).flatMap { Self.bytes(1500, seed: UInt64(thread * 1000 + $0)) }
        }
        func id(_ step: Int) -> String { String(format: "%04d", step) }
        var latest = [Int?](repeating: nil, count: 3)
        var random: UInt64 = 0x5EED
        func pick(_ n: Int) -> Int {
            random = random &* 6364136223846793005 &+ 1442695040888963407
            return Int(random >> 33) % n
        }
        for round in 0..<90 {
            let store = stores[pick(2)], t = pick(3)
            switch pick(6) {
            case 0:
                _ = try await store.deleteThreads(["t\(t)"])
                latest[t] = nil
            case 1:
                _ = try await store.prune(["t\(t)"], strategy: .keepLatest)
            default:
                let step = latest[t].map { $0 + 1 } ?? 0
                var put = Self.put("t\(t)", id(step), parent: step == 0 ? nil : id(step - 1),
                                   values: ["v": value(t, step: step)], versions: ["v": "\(step)"])
                if step > 0, pick(2) == 0 {
                    // Half the steps are sent as their growth only, against the step before.
                    let before = value(t, step: step - 1)
                    put.newValues[0].value?.bytes = []
                    put.newValues[0].delta = ValueDelta(baseVersion: "\(step - 1)", head: [], copy: 0..<before.count,
                                                        tail: Array(value(t, step: step)[before.count...]))
                }
                try await store.put(put)
                latest[t] = step
            }
            for (t, step) in latest.enumerated() {
                let back = try stores[pick(2)].tuple(GraphKey(thread: "t\(t)"))
                #expect(back?.values.first?.value?.bytes == step.map { value(t, step: $0) }, "round \(round), thread t\(t)")
            }
        }
        // A third store with empty caches reads every byte from the catalog's chunks.
        let fresh = try GraphStore(store: try ContentStore.open(at: f.root))
        for (t, step) in latest.enumerated() {
            #expect(try fresh.tuple(GraphKey(thread: "t\(t)"))?.values.first?.value?.bytes == step.map { value(t, step: $0) }, "thread t\(t)")
        }
        #expect(try fresh.verify().problems.map(\.message) == [])
    }

    @Test("list: newest first, namespaces, before, limit, metadata filter")
    func listing() async throws {
        let f = try Fixture()
        for i in 1...5 {
            try await f.graph.put(Self.put("t", "\(i)", parent: i == 1 ? nil : "\(i - 1)", metadata: "{\"step\": \(i), \"source\": \"\(i % 2 == 0 ? "loop" : "input")\"}"))
        }
        try await f.graph.put(Self.put("t", "9", ns: "sub", metadata: "{\"step\": 1.0}"))
        #expect(try f.graph.list(CheckpointQuery(thread: "t", namespace: "")).map(\.checkpoint) == ["5", "4", "3", "2", "1"])
        #expect(try f.graph.list(CheckpointQuery(thread: "t")).map(\.checkpoint) == ["9", "5", "4", "3", "2", "1"])
        #expect(try f.graph.list(CheckpointQuery(thread: "t", namespace: "", before: "4", limit: 2)).map(\.checkpoint) == ["3", "2"])
        #expect(try f.graph.list(CheckpointQuery(thread: "t", metadataFilter: ["source": "loop"])).map(\.checkpoint) == ["4", "2"])
        #expect(try f.graph.list(CheckpointQuery(thread: "t", metadataFilter: ["source": "input"], limit: 2)).map(\.checkpoint) == ["5", "3"])
        #expect(try f.graph.list(CheckpointQuery(metadataFilter: ["step": 1])).map(\.checkpoint) == ["9", "1"])
        #expect(try f.graph.list(CheckpointQuery(metadataFilter: ["step": 1, "source": "loop"])).isEmpty)
    }

    @Test("a damaged chunk is reported naming the channel, never returned")
    func damage() async throws {
        let f = try Fixture()
        try await f.graph.put(Self.put("t", "1", values: ["messages": Self.bytes(30_000, seed: 5)]))
        // One chunk's bytes zeroed in place, as a bad disk would: same length, only its id tells.
        let victim = try #require(try f.store.catalog.database.read { db in try db.queryOne("SELECT id, data FROM graph_chunks ORDER BY id LIMIT 1", []) })
        try f.store.catalog.database.write { db in
            try db.execute("UPDATE graph_chunks SET data = ? WHERE id = ?", [UInt8](repeating: 0, count: try victim.blob("data").count), try victim.blob("id"))
        }
        let fresh = try GraphStore(store: f.store)  // no cached copy
        let check = try fresh.verify()
        #expect(check.values == 1 && check.problems.count == 1)
        #expect {
            _ = try fresh.tuple(GraphKey(thread: "t"))
        } throws: { error in
            guard case GraphError.corrupt(let message) = error else { return false }
            return message.contains("channel messages of checkpoint 1 of thread t")
        }
    }

    @Test("bad arguments name the field and change nothing")
    func badArguments() async throws {
        let f = try Fixture()
        var p = Self.put("", "1")
        await #expect(throws: GraphError.invalidArgument(field: "thread_id", reason: "must not be empty")) { try await f.graph.put(p) }
        p = Self.put("t", "1", metadata: "[1, 2]")
        await #expect(throws: GraphError.invalidArgument(field: "metadata_json", reason: "must be a JSON object")) { try await f.graph.put(p) }
        p = Self.put("t", "1", metadata: "{\"step\": ")
        await #expect(throws: GraphError.self) { try await f.graph.put(p) }
        p = Self.put("t", "")
        await #expect(throws: GraphError.invalidArgument(field: "checkpoint_id", reason: "must not be empty")) { try await f.graph.put(p) }
        #expect(try f.count("graph_checkpoints") == 0)
    }

    @Test("concurrent puts from many tasks all land")
    func concurrentPuts() async throws {
        let f = try Fixture()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<20 {
                group.addTask {
                    for i in 0..<10 {
                        try await f.graph.put(Self.put("t\(t)", "\(i)", parent: i == 0 ? nil : "\(i - 1)",
                                                       values: ["v": Self.bytes(3000, seed: UInt64(t * 100 + i))], versions: ["v": "\(i)"]))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try f.count("graph_checkpoints") == 200)
        for t in 0..<20 {
            #expect(try f.graph.tuple(GraphKey(thread: "t\(t)"))?.values.first?.value?.bytes == Self.bytes(3000, seed: UInt64(t * 100 + 9)))
        }
    }
}
