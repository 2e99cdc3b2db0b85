import Foundation
import Testing
import StasisIO
import StasisObjectStorage
@testable import StasisStore
import StasisStoreTestSupport

/// Invariants checked:
/// - a flipped byte in a pack is found by `verify(deep:)`, which names the damaged chunk, its pack
///   and the images it breaks; `materialize` then refuses and leaves no output file;
/// - a truncated or deleted pack, and a manifest naming a missing chunk, are reported by a plain
///   `verify` and refused by `materialize` before anything is written;
/// - `repair --reindex` rebuilds the chunk index from the packs alone and quarantines bad packs.
@Suite("Integrity: corruption, truncation, missing data, reindex")
struct IntegrityTests {
    func storeWithImage(seed: UInt64 = 5, pages: Int = 300) throws -> (TemporaryDirectory, ContentStore, String, [UInt8]) {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("store"))
        var gen = TestImage(seed: seed)
        let bytes = gen.bytes(pages: pages)
        TestFiles.write(bytes, to: dir.file("img"))
        let id = try store.capture(dir.file("img")).image.id
        return (dir, store, id, bytes)
    }

    func onlyPack(_ store: ContentStore) throws -> (id: String, path: String) {
        let id = try store.catalog.packs()[0].id
        return (id, store.layout.packPath(for: id))
    }

    func flipByte(at offset: Int, in path: String) throws {
        chmod(path, 0o644)
        var bytes = TestFiles.read(path)
        bytes[offset] ^= 0xFF
        TestFiles.write(bytes, to: path)
    }

    @Test("a flipped payload byte is named by verify --deep (every chunk of its frame) and refused by materialize")
    func flippedByte() throws {
        let (dir, store, id, _) = try storeWithImage()
        #expect(try store.verify(deep: true).ok)
        let pack = try onlyPack(store)
        let index = try PackIndex.read(packID: pack.id, path: pack.path, cipher: store.cipher)
        let victim = index.entries[index.entries.count / 2]
        let frame = index.frames[victim.frame]
        try flipByte(at: Int(frame.offset) + frame.storedLength / 2, in: pack.path)

        #expect(try store.verify(deep: false).ok)            // structure is intact
        let report = try store.verify(deep: true)
        #expect(!report.ok)
        // A frame is compressed (and sealed) whole: one flipped byte takes all its chunks.
        let inFrame = Set(index.entries.filter { $0.frame == victim.frame }.map(\.id.hex))
        let damaged = report.problems.filter { $0.kind == "corrupt-chunk" }
        #expect(Set(damaged.map(\.subject)) == inFrame)
        let problem = try #require(damaged.first { $0.subject == victim.id.hex })
        #expect(problem.message.contains(pack.id))
        #expect(problem.affectedImages == [id])

        #expect {
            _ = try store.materialize(id, to: dir.file("out"))
        } throws: { error in
            guard case StoreError.corruptChunk(let chunk, let p, _, _) = error else { return false }
            return inFrame.contains(chunk.hex) && p == pack.id
        }
        #expect(!FileSystem.exists(dir.file("out")))
        #expect(try FileSystem.list(dir.path).filter { $0.contains(".stasis-") }.isEmpty)
    }

    @Test("a truncated pack is reported by verify and refused by materialize")
    func truncatedPack() throws {
        let (dir, store, id, _) = try storeWithImage()
        let pack = try onlyPack(store)
        chmod(pack.path, 0o644)
        let bytes = TestFiles.read(pack.path)
        TestFiles.write(Array(bytes[0..<bytes.count / 2]), to: pack.path)
        let report = try store.verify()
        #expect(report.problems.contains { $0.kind == "corrupt-pack" && $0.subject == pack.id && $0.affectedImages == [id] })
        #expect(throws: StoreError.self) { _ = try store.materialize(id, to: dir.file("out")) }
        #expect(!FileSystem.exists(dir.file("out")))
    }

    @Test("a missing pack and the chunks it held are named")
    func missingPack() throws {
        let (dir, store, id, _) = try storeWithImage()
        let pack = try onlyPack(store)
        try FileSystem.remove(pack.path)
        try removeShared(.pack(id: pack.id), of: store)
        let report = try store.verify()
        #expect(report.problems.contains { $0.kind == "missing-pack" && $0.subject == pack.id })
        #expect(throws: StoreError.self) { _ = try store.materialize(id, to: dir.file("out")) }
        if store.objects != nil {
            // A fleet host's packs are a cache: it cannot rebuild the shared pack list from them.
            #expect(throws: StoreError.self) { _ = try store.reindex() }
            return
        }

        // After a reindex the pack is gone from the catalog, and the image's chunks are missing.
        let r = try store.reindex()
        #expect(r.packsMissing == [pack.id])
        #expect(r.imagesMissingChunks == [id])
        #expect {
            _ = try store.materialize(id, to: dir.file("out"))
        } throws: { error in
            if case StoreError.missingChunk(_, let image) = error { return image == id }
            return false
        }
        #expect(try store.verify().problems.contains { $0.kind == "missing-chunk" && $0.affectedImages == [id] })
    }

    @Test("reindex rebuilds the chunk index from packs alone and quarantines a bad pack")
    func reindex() throws {
        let (dir, store, id, bytes) = try storeWithImage()
        if store.objects != nil {
            #expect { _ = try store.reindex() } throws: { "\($0)".contains("fleet store") }
            return
        }
        // Wipe the catalog's pack list as if it were lost.
        try store.catalog.resetPacks(to: [])
        #expect(throws: StoreError.self) { _ = try store.materialize(id, to: dir.file("out")) }
        // A junk file that looks like a pack.
        let junkDir = store.layout.packsDirectory + "/ab"
        try FileSystem.createDirectory(junkDir)
        TestFiles.write(Array("not a pack".utf8), to: junkDir + "/ab00.pack")

        let r = try store.reindex()
        #expect(r.packsIndexed == 1)
        #expect(r.packsQuarantined == ["ab00"])
        #expect(r.imagesMissingChunks.isEmpty)
        _ = try store.materialize(id, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == bytes)
        #expect(try store.verify(deep: true).ok)
    }

    @Test("a pack from a newer stasis is not damage: verify says so, reindex stops before changing anything")
    func newerPack() throws {
        let (dir, store, id, bytes) = try storeWithImage()
        guard store.objects == nil else { return }   // reindex is refused on a fleet store (above)
        let pack = try #require(try store.catalog.packs().first).id
        let path = store.layout.packPath(for: pack)
        let original = TestFiles.read(path)
        chmod(path, 0o644)
        var newer = original
        newer[8] = 3   // header: format version 3
        TestFiles.write(newer, to: path)
        // A junk pack beside it, which reindex would quarantine were it to go on.
        let junkDir = store.layout.packsDirectory + "/ab"
        try FileSystem.createDirectory(junkDir)
        TestFiles.write(Array("not a pack".utf8), to: junkDir + "/ab00.pack")

        let report = try store.verify()
        #expect(report.problems.contains { $0.kind == "newer-pack" && $0.subject == pack && $0.message.contains("upgrade stasis") })
        let packsBefore = try store.catalog.packs().map(\.id)
        #expect { _ = try store.reindex() } throws: { error in
            if case StoreError.newerPack(let p, 3, _) = error { return p == pack }
            return false
        }
        #expect(try store.catalog.packs().map(\.id) == packsBefore)
        #expect(FileSystem.exists(path) && FileSystem.exists(junkDir + "/ab00.pack"))
        #expect(!FileSystem.exists(store.layout.packsDirectory + "/quarantine"))
        // Put back, everything reads again.
        TestFiles.write(original, to: path)
        _ = try store.materialize(id, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == bytes)
    }

    @Test("a damaged manifest is refused")
    func damagedManifest() throws {
        let (dir, store, id, _) = try storeWithImage()
        let path = store.manifestFiles.path(for: id)
        chmod(path, 0o644)
        TestFiles.write(Array(TestFiles.read(path).prefix(40)), to: path)
        #expect(throws: StoreError.self) { _ = try store.materialize(id, to: dir.file("out")) }
        #expect(try store.verify().problems.contains { $0.kind == "corrupt-manifest" && $0.subject == id })
        // gc refuses to decide what is garbage while a manifest is unreadable.
        #expect(throws: StoreError.self) { _ = try store.gc() }
        try FileSystem.remove(path)
        if store.objects != nil {
            // On a fleet host the file was a cached copy: the shared object takes its place.
            #expect(try store.verify().ok)
            try FileSystem.remove(path)
            try removeShared(.manifest(id: id), of: store)
        }
        #expect(try store.verify().problems.contains { $0.kind == "corrupt-manifest" && $0.message.contains("missing") })
    }

    /// Deletes an object from a fleet store's shared storage (nothing on one host).
    func removeShared(_ key: ObjectKey, of store: ContentStore) throws {
        guard let storage = store.objects?.storage else { return }
        try BlockingAsync.run { () async throws(ObjectStorageError) in try await storage.delete(key) }
    }
}
