import StasisGraphStore
import Testing

/// A listing reads its checkpoints a batch at a time, each table in one statement for the whole
/// batch. Invariants checked: a batch of checkpoints of several threads and namespaces, with
/// channels changed at different steps, emptied channels and pending writes, reads back exactly
/// as each checkpoint read alone, in the order asked; keys that do not exist are left out.
@Suite("graph store: batched reads")
struct GraphBatchReadTests {
    typealias T = GraphStoreTests

    @Test("tuples(keys) equals tuple(key) for each key, in order, leaving out missing keys")
    func batchEqualsOneByOne() async throws {
        let f = try T.Fixture()
        var keys: [GraphKey] = []
        for t in 0..<3 {
            for ns in ["", "sub"] {
                for step in 0..<5 {
                    let id = String(format: "%04d", step)
                    // "a" changes every step (large from step 2), "b" every other step, "c" is emptied at step 3.
                    var values: [String: [UInt8]] = ["a": T.bytes(step >= 2 ? 9000 + step : 100 + step, seed: UInt64(t * 100 + step))]
                    if step % 2 == 0 { values["b"] = T.bytes(50, seed: UInt64(step)) }
                    var versions = ["a": "\(step)", "b": "\(step - step % 2)"]
                    if step < 3 { values["c"] = [UInt8(step)]; versions["c"] = "\(step)" } else { versions["c"] = "3" }
                    var put = T.put("t\(t)", id, parent: step == 0 ? nil : String(format: "%04d", step - 1), ns: ns,
                                    values: values, versions: versions)
                    if step == 3 { put.newValues.append(ChannelUpdate(channel: "c", version: "3", value: nil)) }
                    try await f.graph.put(put)
                    let key = GraphKey(thread: "t\(t)", namespace: ns, checkpoint: id)
                    if step % 2 == 1 {
                        try await f.graph.putWrites(key, taskID: "task\(step)", taskPath: "p", writes: [
                            PendingWrite(taskID: "task\(step)", index: 1, channel: "x", value: GraphValue(type: "str", bytes: [1]), taskPath: "p"),
                            PendingWrite(taskID: "task\(step)", index: 0, channel: "y", value: GraphValue(type: "bytes", bytes: T.bytes(6000, seed: 7)), taskPath: "p"),
                        ], replace: false)
                    }
                    keys.append(key)
                }
            }
        }
        let asked = keys.reversed() + [GraphKey(thread: "t0", checkpoint: "9999"), GraphKey(thread: "nobody", checkpoint: "0001")]
        let batch = try f.graph.tuples(Array(asked))
        #expect(batch.map(\.key) == keys.reversed())
        for tuple in batch {
            let alone = try #require(try f.graph.tuple(tuple.key))
            #expect(tuple.parent == alone.parent)
            #expect(tuple.checkpoint.bytes == alone.checkpoint.bytes && tuple.metadata.bytes == alone.metadata.bytes)
            #expect(tuple.values.map(\.channel) == alone.values.map(\.channel))
            #expect(tuple.values.map(\.version) == alone.values.map(\.version))
            #expect(tuple.values.map { $0.value?.bytes } == alone.values.map { $0.value?.bytes })
            #expect(tuple.pendingWrites.map(\.index) == alone.pendingWrites.map(\.index))
            #expect(tuple.pendingWrites.map(\.value.bytes) == alone.pendingWrites.map(\.value.bytes))
        }
        // Step 3 has "a" and "b" (its version from step 2) and "c" emptied; step 1 has "c" at 1.
        let three = try #require(batch.first { $0.key.thread == "t1" && $0.key.namespace == "sub" && $0.key.checkpoint == "0003" })
        #expect(three.values.map(\.channel) == ["a", "b"])
        #expect(three.values.map(\.version) == ["3", "2"])
        #expect(three.pendingWrites.map(\.channel) == ["y", "x"])
    }
}
