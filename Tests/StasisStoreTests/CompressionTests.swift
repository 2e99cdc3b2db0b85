import Foundation
import Testing
import StasisIO
@testable import StasisStore
import StasisStoreTestSupport

/// Invariants checked:
/// - a store created with zstd writes zstd frames, reads everything back bit-exact (captures,
///   incremental captures, blobs, gc's repack), keeps its setting when reopened, and stores
///   compressible data in fewer bytes than LZ4 does;
/// - packs of both codecs are read in one store (a store's setting only decides new frames);
/// - a damaged zstd frame is refused, naming the pack, in materialize and in `verify --deep`;
/// - an unknown `store_meta.compression` is refused at open, naming the value.
@Suite("Frame compression: LZ4 and zstd")
struct CompressionTests {
    /// Text-like pages (compressible, as guest memory with files in it is) and random ones.
    func image(seed: UInt64, pages: Int) -> [UInt8] {
        var gen = TestImage(seed: seed)
        var bytes = gen.bytes(pages: pages)
        let words = Array("the quick brown fox jumps over a lazy dog; stasis keeps sandboxes whole. ".utf8)
        for page in stride(from: 0, to: pages, by: 2) {
            for i in 0..<4096 { bytes[page * 4096 + i] = words[(i + page * 7) % words.count] &+ UInt8(truncatingIfNeeded: (i / 512) & 1) }
        }
        return bytes
    }

    func frames(_ store: ContentStore) throws -> [PackFrame] {
        try store.loadIndex().frames.flatMap { $0 }
    }

    @Test("a zstd store round-trips captures, incrementals, blobs and gc's repack, and stores less than LZ4", arguments: [true, false])
    func zstdRoundTrip(encrypted: Bool) throws {
        let dir = TemporaryDirectory()
        let zstd = try ContentStore.create(at: dir.file("zstd"), encrypted: encrypted, compression: .zstd(level: 3))
        let lz4 = try ContentStore.create(at: dir.file("lz4"), encrypted: encrypted, compression: .lz4)
        let first = image(seed: 7, pages: 600)
        TestFiles.write(first, to: dir.file("m0"))
        let a = try zstd.capture(dir.file("m0")).image
        _ = try lz4.capture(dir.file("m0"))
        #expect(try frames(zstd).contains { $0.codec == .zstd })
        #expect(try !frames(zstd).contains { $0.codec == .lz4 })
        #expect(try frames(lz4).allSatisfy { $0.codec != .zstd })
        #expect(try zstd.stats().storedChunkBytes < lz4.stats().storedChunkBytes)

        var next = first
        for page in stride(from: 1, to: 600, by: 9) { next[page * 4096 + 11] ^= 0x5a }
        TestFiles.write(next, to: dir.file("m1"))
        var options = CaptureOptions()
        options.parent = a.id
        let b = try zstd.capture(dir.file("m1"), options: options).image
        let blob = try zstd.putBlob(Array(first[0..<300_000]))

        // Reopened: the setting is the store's.
        let reopened = try ContentStore.open(at: dir.file("zstd"))
        #expect(reopened.compression == .zstd(level: 3))
        _ = try reopened.materialize(a.id, to: dir.file("out0"))
        _ = try reopened.materialize(b.id, to: dir.file("out1"))
        #expect(TestFiles.read(dir.file("out0")) == first)
        #expect(TestFiles.read(dir.file("out1")) == next)
        #expect(try reopened.blob(blob.id) == Array(first[0..<300_000]))

        // gc repacks what is left of a mostly dead pack: with zstd too.
        _ = try reopened.removeImage(a.id)
        _ = try reopened.gc()
        _ = try reopened.materialize(b.id, to: dir.file("out2"))
        #expect(TestFiles.read(dir.file("out2")) == next)
        #expect(try reopened.verify(deep: true).ok)
    }

    @Test("one store reads LZ4 and zstd packs side by side")
    func mixedCodecs() throws {
        let dir = TemporaryDirectory()
        let store = try ContentStore.create(at: dir.file("s"), encrypted: false, compression: .lz4)
        #expect(try ContentStore.create(at: dir.file("default")).compression == .zstd(level: 1))
        let first = image(seed: 8, pages: 200)
        TestFiles.write(first, to: dir.file("m0"))
        let a = try store.capture(dir.file("m0")).image
        // The same catalog opened as a zstd store (what a later setting would do).
        try store.catalog.write { db in try db.execute("UPDATE store_meta SET value = 'zstd' WHERE key = 'compression'") }
        let later = try ContentStore.open(at: dir.file("s"))
        let second = image(seed: 9, pages: 200)
        TestFiles.write(second, to: dir.file("m1"))
        let b = try later.capture(dir.file("m1")).image
        let codecs = Set(try frames(later).map(\.codec))
        #expect(codecs.contains(.lz4) && codecs.contains(.zstd))
        _ = try later.materialize(a.id, to: dir.file("o0"))
        _ = try later.materialize(b.id, to: dir.file("o1"))
        #expect(TestFiles.read(dir.file("o0")) == first && TestFiles.read(dir.file("o1")) == second)
    }

    @Test("a damaged zstd frame is refused, naming its pack; an unknown setting is refused at open")
    func damage() throws {
        let dir = TemporaryDirectory()
        let store = try ContentStore.create(at: dir.file("s"), encrypted: false, compression: .zstd(level: 1))
        let bytes = image(seed: 10, pages: 100)
        TestFiles.write(bytes, to: dir.file("m"))
        let captured = try store.capture(dir.file("m"))
        let index = try store.loadIndex()
        let pack = captured.packs[0]
        let frame = try #require(index.frames[index.packIDs.firstIndex(of: pack)!].first { $0.codec == .zstd })
        let path = store.layout.packPath(for: pack)
        chmod(path, 0o644)
        var file = TestFiles.read(path)
        file[Int(frame.offset) + frame.storedLength / 2] ^= 0xff
        TestFiles.write(file, to: path)
        #expect { _ = try store.materialize(captured.image.id, to: dir.file("out")) } throws: { error in
            if case StoreError.corruptChunk(_, let p, _, _) = error { return p == pack }
            return false
        }
        #expect(!FileSystem.exists(dir.file("out")))
        let report = try store.verify(deep: true)
        #expect(report.problems.contains { $0.subject.contains(pack) || $0.message.contains(pack) })

        try store.catalog.write { db in try db.execute("UPDATE store_meta SET value = 'brotli' WHERE key = 'compression'") }
        #expect { _ = try ContentStore.open(at: dir.file("s")) } throws: { "\($0)".contains("brotli") }
    }

    @Test("compression settings parse: lz4, zstd, zstd:LEVEL; anything else is refused")
    func parsing() {
        #expect(FrameCompression("lz4") == .lz4)
        #expect(FrameCompression("zstd") == .zstd(level: 1))
        #expect(FrameCompression("ZSTD:19") == .zstd(level: 19))
        for bad in ["", "zstd:0", "zstd:20", "zstd:x", "gzip", "lz4:1", "zstd:1:2"] { #expect(FrameCompression(bad) == nil, "\(bad)") }
        for c in [FrameCompression.lz4, .zstd(level: 1), .zstd(level: 7)] { #expect(FrameCompression(c.description) == c) }
    }
}
