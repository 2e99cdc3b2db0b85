import StasisCatalog
import StasisGraphStore
import StasisStore
import Testing

/// Blobs kept in rows — checkpoints, channel versions, small channel values, small pending
/// writes — are stored zstd-compressed when that saves space (`graph:v5-row-compression`).
/// Invariants checked, on both catalog engines:
/// - every compressed blob reads back bit-exact, through a read, a copy of the thread and a
///   prune that keeps the latest checkpoint; blobs that do not compress stay raw;
/// - rows written before the migration (no encoding) read back as they are;
/// - a damaged compressed row is reported as damage naming its row, never returned; a prune
///   whose versions do not decode removes nothing; an unknown encoding says to upgrade.
@Suite("graph store: compressed rows")
struct GraphRowCompressionTests {
    typealias T = GraphStoreTests
    static func prose(_ n: Int, seed: UInt64) -> [UInt8] { GraphChunkEncodingTests.prose(n, seed: seed) }

    /// LangGraph's own version strings: a zero-padded counter and a random fraction.
    static func version(_ n: Int) -> String { String(repeating: "0", count: 28) + String(format: "%04d", n) + ".0.\(Int64(n) * 7_919_777 % 1_000_003)" }

    static func put(_ thread: String, _ id: String, parent: String?, step: Int) -> CheckpointPut {
        let versions = ["messages": version(step), "steps": version(step), "branch:to:agent": version(1)]
        return CheckpointPut(
            key: GraphKey(thread: thread, checkpoint: id), parent: parent,
            checkpoint: GraphValue(type: "msgpack", bytes: prose(900, seed: UInt64(step))),
            metadata: GraphValue(type: "msgpack", bytes: Array("md-\(id)".utf8)), metadataJSON: "{}",
            versions: versions,
            newValues: [ChannelUpdate(channel: "messages", version: version(step), value: GraphValue(type: "msgpack", bytes: prose(2_000 + step, seed: 100 + UInt64(step)))),
                        ChannelUpdate(channel: "steps", version: version(step), value: GraphValue(type: "msgpack", bytes: [UInt8(step)]))])
    }

    static let compressible = PendingWrite(taskID: "task-1", index: 0, channel: "messages",
                                           value: GraphValue(type: "msgpack", bytes: prose(1_500, seed: 9)), taskPath: "~agent")
    static let random = PendingWrite(taskID: "task-1", index: 1, channel: "blob", value: GraphValue(type: "bytes", bytes: T.bytes(1_500, seed: 9)),
                                     taskPath: "~agent")

    /// Three checkpoints on thread `t`, writes on the last.
    static func fill(_ f: T.Fixture) async throws {
        for step in 1...3 {
            try await f.graph.put(put("t", "\(step)", parent: step == 1 ? nil : "\(step - 1)", step: step))
        }
        try await f.graph.putWrites(GraphKey(thread: "t", checkpoint: "3"), taskID: "task-1", taskPath: "~agent",
                                    writes: [compressible, random], replace: false)
    }

    static func expectWhole(_ tuple: CheckpointTuple?, step: Int, writes: Bool) {
        let expected = put("t", "\(step)", parent: nil, step: step)
        #expect(tuple?.checkpoint == expected.checkpoint)
        #expect(Dictionary(uniqueKeysWithValues: (tuple?.values ?? []).map { ($0.channel, $0.value!.bytes) })
            == Dictionary(uniqueKeysWithValues: expected.newValues.map { ($0.channel, $0.value!.bytes) }))
        #expect(tuple?.values.map(\.version).sorted() == expected.newValues.map(\.version).sorted())
        if writes { #expect(tuple?.pendingWrites == [compressible, random]) }
    }

    static func rows(_ f: T.Fixture, _ sql: String) throws -> [CatalogRow] {
        try f.store.catalog.database.read { db in try db.query(sql, []) }
    }

    @Test("checkpoints, versions, small values and writes are stored compressed and read back bit-exact")
    func roundTrip() async throws {
        let f = try T.Fixture()
        try await Self.fill(f)
        let checkpoints = try Self.rows(f, "SELECT checkpoint, checkpoint_encoding, versions_encoding FROM graph_checkpoints")
        #expect(try checkpoints.allSatisfy { try $0.blob("checkpoint").count < 900 && $0.optionalInt("checkpoint_encoding") == 2 && $0.optionalInt("versions_encoding") == 2 })
        let values = try Self.rows(f, "SELECT channel, inline_value, inline_encoding FROM graph_channel_values")
        #expect(try values.filter { try $0.text("channel") == "messages" }.allSatisfy { try $0.blob("inline_value").count < 2_000 && $0.optionalInt("inline_encoding") == 2 })
        #expect(try values.filter { try $0.text("channel") == "steps" }.allSatisfy { $0.isNull("inline_encoding") })  // one byte: raw
        let writes = try Self.rows(f, "SELECT channel, inline_encoding FROM graph_writes ORDER BY idx")
        #expect(writes.map { $0.optionalInt("inline_encoding") } == [2, nil])  // prose compresses; random bytes stay raw

        let fresh = try GraphStore(store: f.store)
        Self.expectWhole(try fresh.tuple(GraphKey(thread: "t")), step: 3, writes: true)
        Self.expectWhole(try fresh.tuple(GraphKey(thread: "t", checkpoint: "1")), step: 1, writes: false)
        #expect(try fresh.verify().problems.map(\.message) == [])

        #expect(try await fresh.copyThread(from: "t", to: "copy") == 3)
        let copied = try #require(try fresh.tuple(GraphKey(thread: "copy")))
        #expect(copied.checkpoint == Self.put("t", "3", parent: nil, step: 3).checkpoint)
        #expect(copied.pendingWrites == [Self.compressible, Self.random])

        // Prune reads every checkpoint's versions to know which values stay: with them
        // compressed, the latest checkpoint must keep all of its values.
        #expect(try await fresh.prune(["t"], strategy: .keepLatest) == 2)
        Self.expectWhole(try fresh.tuple(GraphKey(thread: "t")), step: 3, writes: true)
        #expect(try fresh.verify().problems.map(\.message) == [])
    }

    @Test("rows written before compression (no encoding) read back as they are")
    func rawRowsStillRead() async throws {
        let f = try T.Fixture()
        try await Self.fill(f)
        // Every compressed blob rewritten as an earlier version stored it: raw, encoding NULL.
        try f.store.catalog.database.write { db in
            for row in try db.query("SELECT checkpoint_id, checkpoint, checkpoint_encoding, versions, versions_encoding FROM graph_checkpoints", []) {
                try db.execute("UPDATE graph_checkpoints SET checkpoint = ?, checkpoint_encoding = NULL, versions = ?, versions_encoding = NULL WHERE checkpoint_id = ?",
                               [.blob(try Self.decoded(row, "checkpoint", "checkpoint_encoding")), .blob(try Self.decoded(row, "versions", "versions_encoding")),
                                .text(try row.text("checkpoint_id"))])
            }
            for row in try db.query("SELECT channel, version, inline_value, inline_encoding FROM graph_channel_values WHERE inline_encoding IS NOT NULL", []) {
                try db.execute("UPDATE graph_channel_values SET inline_value = ?, inline_encoding = NULL WHERE channel = ? AND version = ?",
                               [.blob(try Self.decoded(row, "inline_value", "inline_encoding")), .text(try row.text("channel")), .text(try row.text("version"))])
            }
            for row in try db.query("SELECT idx, inline_value, inline_encoding FROM graph_writes WHERE inline_encoding IS NOT NULL", []) {
                try db.execute("UPDATE graph_writes SET inline_value = ?, inline_encoding = NULL WHERE idx = ?",
                               [.blob(try Self.decoded(row, "inline_value", "inline_encoding")), .int(try row.int("idx"))])
            }
        }
        #expect(try Self.rows(f, "SELECT 1 AS n FROM graph_checkpoints WHERE checkpoint_encoding IS NOT NULL OR versions_encoding IS NOT NULL").isEmpty)
        let reopened = try GraphStore(store: f.store)
        Self.expectWhole(try reopened.tuple(GraphKey(thread: "t")), step: 3, writes: true)
        Self.expectWhole(try reopened.tuple(GraphKey(thread: "t", checkpoint: "1")), step: 1, writes: false)
        #expect(try reopened.verify().problems.map(\.message) == [])
    }

    static func decoded(_ row: CatalogRow, _ column: String, _ encoding: String) throws -> [UInt8] {
        let stored = try row.blob(column)
        guard row.optionalInt(encoding) == 2 else { return stored }
        return try stored.withUnsafeBytes { src in
            let size = try #require(ZstdBlock.frameContentSize(src, limit: 1 << 20))
            var out = [UInt8](repeating: 0, count: size)
            #expect(out.withUnsafeMutableBytes { ZstdBlock.decompress(src, into: $0) })
            return out
        }
    }

    @Test("a damaged compressed write is reported naming its checkpoint, never returned")
    func damagedWrite() async throws {
        let f = try T.Fixture()
        try await Self.fill(f)
        try f.store.catalog.database.write { db in
            let row = try #require(try db.queryOne("SELECT inline_value FROM graph_writes WHERE idx = 0", []))
            var bytes = try row.blob("inline_value")
            bytes[bytes.count / 2] ^= 0x5A
            try db.execute("UPDATE graph_writes SET inline_value = ? WHERE idx = 0", [.blob(bytes)])
        }
        let fresh = try GraphStore(store: f.store)
        #expect {
            _ = try fresh.tuple(GraphKey(thread: "t"))
        } throws: { error in
            guard case GraphError.corrupt(let message) = error else { return false }
            return message.contains("a write of checkpoint 3 of thread t")
        }
        #expect(try fresh.verify().problems.map(\.subject) == ["thread t"])
        // Earlier checkpoints, which hold no damaged row, still read.
        Self.expectWhole(try fresh.tuple(GraphKey(thread: "t", checkpoint: "2")), step: 2, writes: false)
    }

    @Test("a prune whose channel versions do not decode removes nothing")
    func damagedVersionsStopPrune() async throws {
        let f = try T.Fixture()
        try await Self.fill(f)
        try f.store.catalog.database.write { db in
            try db.execute("UPDATE graph_checkpoints SET versions = ? WHERE checkpoint_id = '3'", [.blob(Array("not zstd at all".utf8))])
        }
        let counts = (try f.count("graph_checkpoints"), try f.count("graph_channel_values"), try f.count("graph_writes"))
        let fresh = try GraphStore(store: f.store)
        await #expect(throws: GraphError.self) { _ = try await fresh.prune(["t"], strategy: .keepLatest) }
        #expect((try f.count("graph_checkpoints"), try f.count("graph_channel_values"), try f.count("graph_writes")) == counts)
        #expect(try fresh.verify().problems.map(\.subject) == ["checkpoint 3 of thread t"])
    }

    @Test("an encoding this version does not know says to upgrade")
    func unknownEncoding() async throws {
        let f = try T.Fixture()
        try await Self.fill(f)
        try f.store.catalog.database.write { db in try db.execute("UPDATE graph_checkpoints SET checkpoint_encoding = 9 WHERE checkpoint_id = '3'", []) }
        #expect {
            _ = try GraphStore(store: f.store).tuple(GraphKey(thread: "t"))
        } throws: { error in
            guard case GraphError.corrupt(let message) = error else { return false }
            return message.contains("unknown encoding 9") && message.contains("upgrade stasis")
        }
    }
}
