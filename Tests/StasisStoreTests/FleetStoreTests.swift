import Foundation
import Testing
import StasisIO
import StasisObjectStorage
@testable import StasisStore
import StasisStoreTestSupport

/// Invariants checked, with the catalog in PostgreSQL and the objects in SeaweedFS:
/// - an image captured on host A materializes bit-exact on host B after A's directory is gone:
///   B's chunk index comes from catalog rows, its packs and manifest from the bucket;
/// - B's later incremental capture dedups against A's chunks (only the changed pages are new),
///   and A's successor (a fresh directory, joined with the key) reads it;
/// - joining needs the store's key: another key, or a catalog with no store, is refused and
///   leaves the directory as it was; creating over an existing fleet store is refused;
/// - the descriptor holds no secret.
@Suite("Fleet store: catalog in PostgreSQL, objects in S3", .enabled(if: !TestStores.servicesSkipped, "STASIS_TEST_NO_SERVICES=1"))
struct FleetStoreTests {
    @Test("captured on one host, restored on another whose cache is empty")
    func acrossHosts() throws {
        let dir = TemporaryDirectory()
        let backends = try TestStores.fleetBackends()
        let a = try ContentStore.create(at: dir.file("host-a"), backends: backends)
        var gen = TestImage(seed: 41)
        let base = gen.bytes(pages: 300)
        TestFiles.write(base, to: dir.file("mem0"))
        let first = try a.capture(dir.file("mem0")).image
        let keyCopy = dir.file("store.ed25519")
        TestFiles.write(TestFiles.read(a.layout.keyPath), to: keyCopy)
        chmod(keyCopy, 0o600)
        try FileManager.default.removeItem(atPath: dir.file("host-a"))

        let b = try ContentStore.join(at: dir.file("host-b"), backends: backends, keyFile: keyCopy)
        #expect(!FileSystem.exists(b.layout.catalogPath))
        _ = try b.materialize(first.id, to: dir.file("out0"))
        #expect(TestFiles.read(dir.file("out0")) == base)

        var next = base
        for page in stride(from: 0, to: 300, by: 10) { next[page * 4096] ^= 0xff }
        TestFiles.write(next, to: dir.file("mem1"))
        let second = try b.capture(dir.file("mem1")).image
        #expect(second.newChunks > 0 && second.newChunks <= 30)   // dedup against A's chunks: only changed pages are new

        let a2 = try ContentStore.join(at: dir.file("host-a2"), backends: backends, keyFile: keyCopy)
        _ = try a2.materialize(second.id, to: dir.file("out1"))
        #expect(TestFiles.read(dir.file("out1")) == next)
        #expect(try a2.verify(deep: true).ok)

        let descriptor = String(decoding: TestFiles.read(a2.layout.descriptorPath), as: UTF8.self)
        let password = try TestStores.postgresPassword()
        #expect(!descriptor.contains(password) && !descriptor.contains(ProcessInfo.processInfo.environment["AWS_SECRET_ACCESS_KEY"] ?? "-"))
    }

    @Test("joining needs the store's key; creating over a store is refused; both change nothing")
    func joinRules() throws {
        let dir = TemporaryDirectory()
        let backends = try TestStores.fleetBackends()
        #expect { _ = try ContentStore.join(at: dir.file("early"), backends: backends, keyFile: "/nonexistent") } throws: { "\($0)".contains("/nonexistent") }
        let a = try ContentStore.create(at: dir.file("a"), backends: backends)
        let other = try ContentStore.create(at: dir.file("other"))
        #expect {
            _ = try ContentStore.join(at: dir.file("b"), backends: backends, keyFile: other.layout.keyPath)
        } throws: { "\($0)".contains("not this store's key") }
        #expect(!FileSystem.exists(dir.file("b")))
        #expect {
            _ = try ContentStore.create(at: dir.file("c"), backends: backends)
        } throws: { error in
            if case StoreError.catalogInUse = error { return true }
            return false
        }
        #expect(!FileSystem.exists(dir.file("c")))
        _ = try ContentStore.join(at: dir.file("b"), backends: backends, keyFile: a.layout.keyPath)
    }
}
