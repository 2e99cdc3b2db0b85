import Foundation
import PropertyBased
import StasisCatalog
@testable import StasisGraphStore
import StasisStore
import Testing

/// Values sent as deltas against an earlier version. Invariants checked:
/// - the stored value is exactly head + base[copy] + tail;
/// - chunking that reuses the base's chunks gives exactly the chunks, listing and id that chunking
///   the whole value from scratch gives (whatever the edit);
/// - a delta against a version the store lacks, or copying outside the base, is refused and
///   changes nothing.
@Suite("value deltas")
struct ValueDeltaTests {
    typealias F = GraphStoreTests

    @Test("reusing the base's chunks equals chunking from scratch", .timeLimit(.minutes(2)))
    func reuseEqualsScratch() async {
        await propertyCheck(count: 120, input: Gen.int(in: 0...200_000), Gen.int(in: 0...64), Gen.int(in: 0...64),
                            Gen.int(in: 0...20_000), Gen.uint64()) { baseSize, headCut, headLength, tailLength, seed in
            let base = F.bytes(baseSize, seed: seed)
            let copy = min(headCut, baseSize)..<baseSize
            let head = F.bytes(headLength, seed: seed &+ 1), tail = F.bytes(tailLength, seed: seed &+ 2)
            let bytes = head + Array(base[copy]) + tail
            let baseChunks = ChunkedValue(base)
            let reused = ChunkedValue(bytes, headLength: head.count, base: baseChunks.pieces, baseCount: base.count, copy: copy)
            let scratch = ChunkedValue(bytes)
            #expect(reused.pieces.map(\.id) == scratch.pieces.map(\.id))
            #expect(reused.pieces.map(\.range) == scratch.pieces.map(\.range))
            #expect(reused.id == scratch.id)
        }
    }

    @Test("edits at the header chunk's edge reuse nothing wrongly")
    func headerEdges() {
        let base = F.bytes(100_000, seed: 42)
        let baseChunks = ChunkedValue(base)
        for cut in [0, 1, 63, 64, 65, 128] {
            for headLength in [0, 1, 63, 64, 65] {
                let head = F.bytes(headLength, seed: UInt64(cut)), copy = cut..<base.count
                let bytes = head + Array(base[copy]) + [7, 7, 7]
                let reused = ChunkedValue(bytes, headLength: headLength, base: baseChunks.pieces, baseCount: base.count, copy: copy)
                #expect(reused.pieces.map(\.range) == ChunkedValue(bytes).pieces.map(\.range), "cut \(cut), head \(headLength)")
            }
        }
    }

    @Test("a growing list sent as deltas reads back bit-exact and stores about its growth")
    func growingListAsDeltas() async throws {
        let f = try F.Fixture()
        var list: [UInt8] = [0x90]  // a msgpack-like header that changes with every step
        var stored: Int64 = 0
        for step in 0..<120 {
            let grown = [UInt8(step & 0xff)] + Array(list.dropFirst()) + F.bytes(3000, seed: UInt64(step))
            var update = ChannelUpdate(channel: "messages", version: "\(step)", value: GraphValue(type: "msgpack", bytes: grown))
            if step > 0 {
                update.value?.bytes = []
                update.delta = ValueDelta(baseVersion: "\(step - 1)", head: [UInt8(step & 0xff)], copy: 1..<list.count,
                                          tail: Array(grown[list.count...]))
            }
            let id = String(format: "%04d", step)
            stored += try await f.graph.put(CheckpointPut(
                key: GraphKey(thread: "t", checkpoint: id), parent: step == 0 ? nil : String(format: "%04d", step - 1),
                checkpoint: GraphValue(type: "msgpack", bytes: [1]), metadata: GraphValue(type: "msgpack", bytes: [2]),
                metadataJSON: "{}", versions: ["messages": "\(step)"], newValues: [update]))
            list = grown
        }
        #expect(try f.graph.tuple(GraphKey(thread: "t"))?.values.first?.value?.bytes == list)
        let fresh = try GraphStore(store: f.store)  // read from the chunks, not the cache
        #expect(try fresh.tuple(GraphKey(thread: "t", checkpoint: "0060"))?.values.first?.value?.bytes.count == 1 + 61 * 3000)
        #expect(stored < 3 * Int64(list.count), "stored \(stored) bytes for a \(list.count)-byte list")
        let listings = try f.store.catalog.database.read { db in try db.queryOne("SELECT SUM(length(chunks)) AS n FROM graph_values", [])?.optionalInt("n") } ?? 0
        // Two-level listings: each version adds a few nodes' worth, not a full list of its chunks.
        #expect(listings < 120 * 36 * 20, "listings take \(listings) bytes")
    }

    @Test("a delta against a missing base or outside its base is refused and changes nothing")
    func badDeltas() async throws {
        let f = try F.Fixture()
        try await f.graph.put(F.put("t", "1", values: ["v": F.bytes(5000, seed: 1)]))
        func put(_ delta: ValueDelta) -> CheckpointPut {
            CheckpointPut(key: GraphKey(thread: "t", checkpoint: "2"), parent: "1", checkpoint: GraphValue(type: "m", bytes: []),
                          metadata: GraphValue(type: "m", bytes: []), metadataJSON: "{}", versions: ["v": "2"],
                          newValues: [ChannelUpdate(channel: "v", version: "2", value: GraphValue(type: "bytes", bytes: []), delta: delta)])
        }
        await #expect(throws: GraphError.missingBase("channel v at version 7 of thread t")) {
            try await f.graph.put(put(ValueDelta(baseVersion: "7", head: [], copy: 0..<10, tail: [])))
        }
        await #expect(throws: GraphError.self) {
            try await f.graph.put(put(ValueDelta(baseVersion: "1", head: [], copy: 10..<6000, tail: [])))
        }
        #expect(try f.graph.list(CheckpointQuery(thread: "t")).map(\.checkpoint) == ["1"])
        try await f.graph.put(put(ValueDelta(baseVersion: "1", head: [9], copy: 100..<5000, tail: [8])))
        #expect(try f.graph.tuple(GraphKey(thread: "t"))?.values.first?.value?.bytes == [9] + Array(F.bytes(5000, seed: 1)[100...]) + [8])
    }
}
