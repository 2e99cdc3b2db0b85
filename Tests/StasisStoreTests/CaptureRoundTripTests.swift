import Foundation
import PropertyBased
import Testing
import StasisIO
@testable import StasisStore
import StasisStoreTestSupport

/// Invariants checked:
/// - materialize(capture(f)) is bit-exact for any size (empty, partial last chunk, sparse, all zero)
///   and every supported chunk size;
/// - zero chunks are never stored and come back as holes;
/// - equal contents give equal image ids and store nothing new;
/// - an incremental capture (--parent + --dirty) equals a full capture of the same file, reads only
///   the diff's allocated ranges, and treats a dirty page of zeros as a change;
/// - a hole in the source is never read (reads equal the allocated bytes).
@Suite("Capture and materialize round trips")
struct CaptureRoundTripTests {
    func roundTrip(_ bytes: [UInt8], chunkSize: Int = 4096, sparse: Bool = false) throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("store"), chunkSize: chunkSize)
        let source = dir.file("image")
        if sparse {
            let nonZero = stride(from: 0, to: bytes.count, by: 4096).filter { p in bytes[p..<min(bytes.count, p + 4096)].contains { $0 != 0 } }
            try TestFiles.writeSparse(bytes, pages: nonZero.map { $0 / 4096 }, to: source)
        } else {
            TestFiles.write(bytes, to: source)
        }
        let result = try store.capture(source)
        let out = dir.file("out")
        _ = try store.materialize(result.image.id, to: out)
        #expect(TestFiles.read(out) == bytes)
        #expect(try FileSystem.fileSize(out) == Int64(bytes.count))
    }

    @Test("bit-exact across shapes and chunk sizes", arguments: [4096, 65536, 1 << 21])
    func shapes(chunkSize: Int) throws {
        var gen = TestImage(seed: UInt64(chunkSize))
        try roundTrip([], chunkSize: chunkSize)
        try roundTrip([1], chunkSize: chunkSize)
        try roundTrip(gen.bytes(pages: 64), chunkSize: chunkSize)
        try roundTrip(gen.bytes(pages: 97, extra: 1234), chunkSize: chunkSize)
        try roundTrip([UInt8](repeating: 0, count: 300_000), chunkSize: chunkSize)
        try roundTrip(gen.bytes(pages: 700, extra: 17), chunkSize: chunkSize, sparse: true)
    }

    @Test("random images round-trip (property)")
    func property() async throws {
        await propertyCheck(count: 30, input: Gen.int(in: 0...300), Gen.int(in: 0...4095), Gen.int(in: 0...1_000_000)) { pages, extra, seed in
            var gen = TestImage(seed: UInt64(seed))
            let bytes = gen.bytes(pages: pages, extra: extra)
            #expect(throws: Never.self) { try roundTrip(bytes, sparse: seed % 2 == 0) }
        }
    }

    @Test("zero chunks are holes, and equal contents are stored once")
    func zerosAndDedup() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("store"))
        var gen = TestImage(seed: 7)
        var bytes = gen.bytes(pages: 256)
        for i in 0..<(128 * 4096) { bytes[i] = 0 }   // first half all zeros
        TestFiles.write(bytes, to: dir.file("a"))
        TestFiles.write(bytes, to: dir.file("b"))
        let a = try store.capture(dir.file("a"))
        let b = try store.capture(dir.file("b"))
        #expect(a.image.id == b.image.id)
        #expect(b.alreadyStored)
        #expect(b.storedBytes == 0)
        let manifest = try store.manifest(of: a.image.id)
        #expect(manifest.chunks[0..<128].allSatisfy { $0 == nil })
        let stats = try store.stats()
        #expect(stats.uniqueBytes <= Int64(128 * 4096))
        _ = try store.materialize(a.image.id, to: dir.file("out"))
        // The zero half takes no blocks on disk.
        #expect(try FileSystem.allocatedSize(dir.file("out")) <= Int64(128 * 4096 + 65536))
    }

    @Test("incremental capture equals a full capture and reads only the diff")
    func incremental() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("store"))
        var gen = TestImage(seed: 11)
        let base = gen.bytes(pages: 512)
        TestFiles.write(base, to: dir.file("base"))
        let parent = try store.capture(dir.file("base"))

        var next = base
        let fresh = gen.bytes(pages: 512)
        let dirtyPages = [3, 4, 5, 100, 101, 300, 511]
        for p in dirtyPages { next.replaceSubrange(p * 4096..<(p + 1) * 4096, with: fresh[p * 4096..<(p + 1) * 4096]) }
        // A dirty page rewritten as zeros, over a base page that was not zero: still a change.
        let zeroed = base.indices.lazy.map { $0 / 4096 }.first { p in !dirtyPages.contains(p) && base[p * 4096..<(p + 1) * 4096].contains { $0 != 0 } }!
        next.replaceSubrange(zeroed * 4096..<(zeroed + 1) * 4096, with: repeatElement(0, count: 4096))
        TestFiles.write(next, to: dir.file("next"))
        try TestFiles.writeSparse(next, pages: dirtyPages + [zeroed], to: dir.file("diff"))

        let inc = try store.capture(dir.file("next"), options: CaptureOptions(parent: parent.image.id, dirtyPath: dir.file("diff")))
        #expect(inc.readBytes == Int64((dirtyPages.count + 1) * 4096))
        let full = try store.capture(dir.file("next"))
        #expect(inc.image.id == full.image.id)
        _ = try store.materialize(inc.image.id, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == next)
        #expect(try store.catalog.image(inc.image.id)?.parentID == parent.image.id)
    }

    @Test("incremental capture with chunks larger than the diff's pages merges parent bytes")
    func incrementalPartialChunks() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("store"), chunkSize: 65536)
        var gen = TestImage(seed: 12)
        let base = gen.bytes(pages: 200, extra: 100)
        TestFiles.write(base, to: dir.file("base"))
        let parent = try store.capture(dir.file("base"))
        var next = base
        for p in [1, 17, 18, 150] { for i in p * 4096..<(p + 1) * 4096 { next[i] = UInt8(truncatingIfNeeded: i &* 31) } }
        TestFiles.write(next, to: dir.file("next"))
        try TestFiles.writeSparse(next, pages: [1, 17, 18, 150], to: dir.file("diff"))
        let inc = try store.capture(dir.file("next"), options: CaptureOptions(parent: parent.image.id, dirtyPath: dir.file("diff")))
        _ = try store.materialize(inc.image.id, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == next)
        #expect(inc.image.id == (try store.capture(dir.file("next"))).image.id)
    }

    @Test("a hole in the source is never read")
    func holesAreNotRead() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("store"))
        var gen = TestImage(seed: 3)
        var bytes = [UInt8](repeating: 0, count: 64 << 20)
        let data = gen.bytes(pages: 16)
        bytes.replaceSubrange(8 << 20..<(8 << 20) + data.count, with: data)
        try TestFiles.writeSparse(bytes, pages: Array((8 << 20) / 4096..<(8 << 20) / 4096 + 16), to: dir.file("sparse"))
        let r = try store.capture(dir.file("sparse"))
        #expect(r.readBytes == Int64(data.count))
        _ = try store.materialize(r.image.id, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == bytes)
    }
}
