import Foundation
import Glibc
import Testing
import StasisIO
@testable import StasisStore
import StasisStoreTestSupport

/// Invariants checked:
/// - a new store is encrypted: no page's bytes and no chunk id appear in any pack or manifest
///   file, and everything reads back bit-exact;
/// - a wrong, missing or exposed (group/other-readable) master key is refused at open with an
///   error naming the key, and nothing in the store changes;
/// - `STASIS_MASTER_KEY` replaces the key file, both at create and at open;
/// - rotating the master key re-wraps the data keys without touching a pack: the old key stops
///   opening the store, the new one opens everything; a new data key seals new packs while old
///   packs keep theirs; a rotation cut between the catalog commit and the key file's rename is
///   finished by the next open;
/// - a store made without encryption writes plain version-2 packs and reads version-1 packs.
@Suite("Encryption at rest")
struct EncryptionTests {
    func image(_ dir: TemporaryDirectory, seed: UInt64, pages: Int = 200) -> (path: String, bytes: [UInt8]) {
        var gen = TestImage(seed: seed)
        var bytes = gen.bytes(pages: pages)
        // A page anyone could guess, to look for in the files.
        let marker = Array("STASIS-PLAINTEXT-MARKER-".utf8)
        for i in 0..<(4096 / marker.count) { bytes.replaceSubrange(i * marker.count..<(i + 1) * marker.count, with: marker) }
        let path = dir.file("img-\(seed)")
        TestFiles.write(bytes, to: path)
        return (path, bytes)
    }

    /// Every pack and manifest file of a store, read whole.
    func objectFiles(_ store: ContentStore) throws -> [[UInt8]] {
        var files: [[UInt8]] = []
        for top in [store.layout.packsDirectory, store.layout.manifestsDirectory] {
            for fan in try FileSystem.list(top) where fan.count == 2 {
                for name in try FileSystem.list(top + "/" + fan) { files.append(TestFiles.read(top + "/" + fan + "/" + name)) }
            }
        }
        return files
    }

    func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return Data(haystack).range(of: Data(needle)) != nil
    }

    @Test("a new store is encrypted: no page and no chunk id in its files, everything reads back")
    func sealedAtRest() throws {
        let dir = TemporaryDirectory()
        let store = try ContentStore.create(at: dir.file("store"))
        #expect(store.isEncrypted)
        let (path, bytes) = image(dir, seed: 1)
        let id = try store.capture(path).image.id
        let blob = try store.putBlob(Array(repeating: UInt8(ascii: "b"), count: 100_000) + Array("STASIS-PLAINTEXT-MARKER-".utf8))
        let files = try objectFiles(store)
        #expect(files.count >= 3)
        let manifest = try store.manifest(of: id)
        for file in files {
            #expect(!contains(file, Array("STASIS-PLAINTEXT-MARKER-".utf8)))
            for case let chunk? in manifest.chunks.prefix(20) { #expect(!contains(file, chunk.bytes)) }
            #expect(!contains(file, Array(id.utf8.prefix(16))) || SealedObject.isSealed(file))
        }
        try store.materialize(id, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == bytes)
        #expect(try store.blob(blob.id).count == 100_024)
        #expect(try store.verify(deep: true).ok)
        let reopened = try ContentStore.open(at: dir.file("store"))
        #expect(try reopened.verify(deep: true).ok)
    }

    @Test("a wrong, missing or exposed master key is refused at open, naming the key; nothing changes")
    func badKeys() throws {
        let dir = TemporaryDirectory()
        let store = try ContentStore.create(at: dir.file("store"))
        let (path, _) = image(dir, seed: 2)
        _ = try store.capture(path)
        let keyPath = dir.file("store") + "/keys/master.key"
        let good = TestFiles.read(keyPath)
        let catalogBefore = TestFiles.read(store.layout.catalogPath)

        func refused(_ expectation: String) {
            #expect {
                _ = try ContentStore.open(at: dir.file("store"), environment: [:])
            } throws: { error in
                guard case StoreError.encryption(let subject, let message) = error else { return false }
                return (subject + message).contains(expectation)
            }
        }
        // Wrong key.
        try FileSystem.writeFileAtomically(keyPath, bytes: Array((MasterKey.generate(source: "x").hex + "\n").utf8), permissions: 0o600)
        refused("does not open the store's data key")
        // Not a key at all.
        try FileSystem.writeFileAtomically(keyPath, bytes: Array("not a key\n".utf8), permissions: 0o600)
        refused("64 hex digits")
        // Readable by others.
        try FileSystem.writeFileAtomically(keyPath, bytes: good, permissions: 0o600)
        chmod(keyPath, 0o644)
        refused("chmod 600")
        // Missing.
        try FileSystem.remove(keyPath)
        refused("master key is missing")
        // The right key again: everything as before.
        try FileSystem.writeFileAtomically(keyPath, bytes: good, permissions: 0o600)
        #expect(try ContentStore.open(at: dir.file("store"), environment: [:]).verify(deep: true).ok)
        #expect(TestFiles.read(store.layout.catalogPath).count == catalogBefore.count)
    }

    @Test("STASIS_MASTER_KEY replaces the key file at create and at open")
    func keyFromEnvironment() throws {
        let dir = TemporaryDirectory()
        let key = MasterKey.generate(source: "test").hex
        let store = try ContentStore.create(at: dir.file("store"), environment: [MasterKey.environmentVariable: key])
        #expect(!FileSystem.exists(dir.file("store") + "/keys/master.key"))
        let (path, bytes) = image(dir, seed: 3)
        let id = try store.capture(path).image.id
        #expect(throws: StoreError.self) { _ = try ContentStore.open(at: dir.file("store"), environment: [:]) }
        let reopened = try ContentStore.open(at: dir.file("store"), environment: [MasterKey.environmentVariable: key])
        try reopened.materialize(id, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == bytes)
        #expect(try reopened.encryptionInfo(environment: [MasterKey.environmentVariable: key]).masterKeySource == MasterKey.environmentVariable)
    }

    @Test("rotation re-wraps data keys, rewrites no pack; a new data key seals new packs only")
    func rotation() throws {
        let dir = TemporaryDirectory()
        let root = dir.file("store")
        let store = try ContentStore.create(at: root)
        let first = image(dir, seed: 4)
        let firstID = try store.capture(first.path).image.id
        let packsBefore = try objectFiles(store)
        let oldKey = TestFiles.read(root + "/keys/master.key")

        let newKey = try store.rotateMasterKey(newDataKey: true, environment: [:])
        #expect(try objectFiles(store) == packsBefore)   // nothing rewritten
        #expect(TestFiles.read(root + "/keys/master.key") == Array((newKey.hex + "\n").utf8))
        #expect(!FileSystem.exists(root + "/keys/master.key.next"))

        let reopened = try ContentStore.open(at: root, environment: [:])
        #expect(try reopened.encryptionInfo(environment: [:]).currentDataKey == 2)
        let second = image(dir, seed: 5)
        let secondID = try reopened.capture(second.path).image.id
        let headers = try reopened.packIndexes().map(\.header.keyID)
        #expect(Set(headers) == [1, 2])
        for (id, bytes) in [(firstID, first.bytes), (secondID, second.bytes)] {
            try reopened.materialize(id, to: dir.file("out-\(id.prefix(6))"))
            #expect(TestFiles.read(dir.file("out-\(id.prefix(6))")) == bytes)
        }
        // The old key no longer opens the store.
        try FileSystem.writeFileAtomically(root + "/keys/master.key", bytes: oldKey, permissions: 0o600)
        #expect(throws: StoreError.self) { _ = try ContentStore.open(at: root, environment: [:]) }
    }

    @Test("a rotation cut after its catalog commit is finished by the next open")
    func interruptedRotation() throws {
        let dir = TemporaryDirectory()
        let root = dir.file("store")
        let store = try ContentStore.create(at: root)
        let (path, bytes) = image(dir, seed: 6)
        let id = try store.capture(path).image.id
        // What a crash between the commit and the rename leaves: the catalog re-wrapped under
        // the new key, the new key still under its pending name, the old key in its place.
        let old = try MasterKey.load(path: root + "/keys/master.key")
        let next = MasterKey.generate(source: "next")
        let rewrapped = try store.catalog.dataKeys().map { (key) throws in
            WrappedDataKey(id: key.id, wrapped: next.wrap(try old.unwrap(key.wrapped, id: key.id), id: key.id), masterFingerprint: next.fingerprint)
        }
        try next.write(to: root + "/keys/master.key.next")
        try store.catalog.rewrapDataKeys(rewrapped, adding: nil)

        let reopened = try ContentStore.open(at: root, environment: [:])
        #expect(!FileSystem.exists(root + "/keys/master.key.next"))
        #expect(try MasterKey.load(path: root + "/keys/master.key").fingerprint == next.fingerprint)
        try reopened.materialize(id, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == bytes)
    }

    @Test("a store made without encryption writes plain v2 packs and still reads v1 packs")
    func plainStoreAndVersion1() throws {
        let dir = TemporaryDirectory()
        let root = dir.file("store")
        let store = try ContentStore.create(at: root, encrypted: false)
        #expect(!store.isEncrypted)
        #expect(!FileSystem.exists(root + "/keys/master.key"))
        let (path, bytes) = image(dir, seed: 7, pages: 600)
        let id = try store.capture(path).image.id
        let packs = try store.packIndexes()
        #expect(packs.allSatisfy { $0.header == PackFormat.Header(version: 2, flags: 0, keyID: 0) })
        #expect(packs.contains { $0.frames.count < $0.entries.count })   // chunks share frames

        // Rewrite the image's chunks as one version-1 pack, as stasis wrote before version 2,
        // drop the version-2 packs, and rebuild the catalog's pack list from the files.
        var chunks: [(ChunkID, [UInt8])] = []
        try store.forEachChunk(Set(try store.manifest(of: id).chunks.compactMap { $0 }), context: "test") { (id, raw) throws(StoreError) in
            chunks.append((id, Array(raw)))
        }
        var encoder = PackEncoder()
        defer { encoder.deallocate() }
        var file = encoder.header
        for (chunkID, raw) in chunks { raw.withUnsafeBytes { encoder.append(id: chunkID, raw: $0) { file.append(contentsOf: $0) } } }
        file += encoder.footer()
        let v1ID = "0123456789abcdef0123456789abcdef"
        try FileSystem.createDirectory(store.layout.packDirectory(for: v1ID))
        TestFiles.write(file, to: store.layout.packPath(for: v1ID))
        for pack in packs { try FileSystem.remove(store.layout.packPath(for: pack.packID)) }
        let report = try store.reindex()
        #expect(report.packsIndexed == 1 && report.imagesMissingChunks.isEmpty)
        #expect(try store.packIndexes().map(\.header) == [.v1])
        try store.materialize(id, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == bytes)
        #expect(try store.verify(deep: true).ok)
    }

    @Test("an encrypted store refuses a plain manifest put in place of a sealed one")
    func replacedManifest() throws {
        let dir = TemporaryDirectory()
        let store = try ContentStore.create(at: dir.file("store"))
        let (path, _) = image(dir, seed: 8)
        let id = try store.capture(path).image.id
        let plain = try store.encodedManifest(of: id)
        let file = store.manifestFiles.path(for: id)
        chmod(file, 0o644)
        TestFiles.write(plain, to: file)
        #expect { _ = try store.manifest(of: id) } throws: { error in
            guard case StoreError.encryption(let subject, let message) = error else { return false }
            return subject.contains(id) && message.contains("not sealed")
        }
        #expect(try store.verify().ok == false)
    }
}
