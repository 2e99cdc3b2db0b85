import StasisCatalog
import StasisGraphStore
import StasisStore
import Testing

/// Chunks of large values are stored zstd-compressed when that saves space. Invariants checked:
/// - a compressible value round-trips bit-exact, its chunks stored as zstd (encoding 2) and
///   smaller than their raw bytes;
/// - chunks written LZ4 (encoding 1) by earlier versions still read back bit-exact;
/// - a damaged zstd chunk is reported as damage, naming the channel, never returned.
@Suite("graph store: chunk encodings")
struct GraphChunkEncodingTests {
    typealias T = GraphStoreTests

    /// Text-like bytes: words from a small vocabulary, as compressible as prose.
    static func prose(_ n: Int, seed: UInt64) -> [UInt8] {
        let words = ["the", "agent", "tool", "call", "result", "search", "query", "file", "line", "error", "value", "thread", "state"]
        let noise = T.bytes(n, seed: seed)
        var out: [UInt8] = []
        var i = 0
        while out.count < n {
            out += Array(words[Int(noise[i % n]) % words.count].utf8) + [0x20]
            i += 1
        }
        return Array(out.prefix(n))
    }

    static func chunks(_ f: T.Fixture) throws -> [CatalogRow] {
        try f.store.catalog.database.read { db in try db.query("SELECT id, encoding, raw_length, data FROM graph_chunks", []) }
    }

    @Test("a compressible value is stored as zstd chunks, smaller than raw, and reads back bit-exact")
    func zstdChunks() async throws {
        let f = try T.Fixture()
        let value = Self.prose(60_000, seed: 3)
        try await f.graph.put(T.put("t", "1", values: ["messages": value]))
        let rows = try Self.chunks(f)
        let data = try rows.filter { try $0.int("encoding") == 2 }
        #expect(data.count > 10)
        #expect(try data.reduce(0) { $0 + (try $1.blob("data")).count } < (try data.reduce(0) { $0 + Int(try $1.int("raw_length")) }) * 2 / 3)
        let fresh = try GraphStore(store: f.store)
        #expect(try fresh.tuple(GraphKey(thread: "t"))?.values.first?.value?.bytes == value)
        #expect(try fresh.verify().problems.map(\.message) == [])
    }

    @Test("chunks written LZ4 by earlier versions read back bit-exact")
    func lz4ChunksStillRead() async throws {
        let f = try T.Fixture()
        let value = Self.prose(40_000, seed: 4)
        try await f.graph.put(T.put("t", "1", values: ["messages": value]))
        // Every zstd chunk rewritten as an earlier version wrote it: an LZ4 block.
        let fresh = try GraphStore(store: f.store)
        let zstd = try Self.chunks(f).filter { try $0.int("encoding") == 2 }
        try f.store.catalog.database.write { db in
            for row in zstd {
                var raw = [UInt8](repeating: 0, count: Int(try row.int("raw_length")))
                let ok = try row.blob("data").withUnsafeBytes { src in raw.withUnsafeMutableBytes { ZstdBlock.decompress(src, into: $0) } }
                #expect(ok)
                var scratch = [UInt8](repeating: 0, count: LZ4Block.scratchCapacity(forRawLength: raw.count))
                let n = try #require(raw.withUnsafeBytes { src in scratch.withUnsafeMutableBytes { LZ4Block.compress(src, into: $0) } })
                try db.execute("UPDATE graph_chunks SET encoding = 1, data = ? WHERE id = ?", [.blob(Array(scratch[0..<n])), .blob(try row.blob("id"))])
            }
        }
        #expect(try Self.chunks(f).filter { try $0.int("encoding") == 2 }.isEmpty)
        #expect(try fresh.tuple(GraphKey(thread: "t"))?.values.first?.value?.bytes == value)
        #expect(try fresh.verify().problems.map(\.message) == [])
    }

    @Test("a damaged zstd chunk is reported naming the channel, never returned")
    func damagedZstdChunk() async throws {
        let f = try T.Fixture()
        try await f.graph.put(T.put("t", "1", values: ["messages": Self.prose(30_000, seed: 5)]))
        let victim = try #require(try Self.chunks(f).first { try $0.int("encoding") == 2 })
        var data = try victim.blob("data")
        data[data.count / 2] ^= 0x40
        try f.store.catalog.database.write { db in
            try db.execute("UPDATE graph_chunks SET data = ? WHERE id = ?", [.blob(data), .blob(try victim.blob("id"))])
        }
        let fresh = try GraphStore(store: f.store)
        #expect(try fresh.verify().problems.count == 1)
        #expect {
            _ = try fresh.tuple(GraphKey(thread: "t"))
        } throws: { error in
            guard case GraphError.corrupt(let message) = error else { return false }
            return message.contains("channel messages of checkpoint 1 of thread t")
        }
    }
}
