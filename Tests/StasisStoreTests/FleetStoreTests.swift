import Foundation
import StasisCatalog
import Synchronization
import Testing
import StasisIO
import StasisObjectStorage
@testable import StasisStore
import StasisStoreTestSupport
import StasisTestSupport

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
        let keyCopy = dir.file("store.ed25519"), masterCopy = dir.file("copied-master.key")
        TestFiles.write(TestFiles.read(a.layout.keyPath), to: keyCopy)
        TestFiles.write(TestFiles.read(a.layout.keysDirectory + "/master.key"), to: masterCopy)
        chmod(keyCopy, 0o600)
        chmod(masterCopy, 0o600)
        try FileManager.default.removeItem(atPath: dir.file("host-a"))

        // An encrypted store: joining without its master key is refused before anything is written.
        #expect(throws: StoreError.self) { _ = try ContentStore.join(at: dir.file("host-b"), backends: backends, keyFile: keyCopy) }
        #expect(!FileSystem.exists(dir.file("host-b") + "/store.json"))
        let b = try ContentStore.join(at: dir.file("host-b"), backends: backends, keyFile: keyCopy, masterKeyFile: masterCopy)
        #expect(!FileSystem.exists(b.layout.catalogPath))
        _ = try b.materialize(first.id, to: dir.file("out0"))
        #expect(TestFiles.read(dir.file("out0")) == base)

        var next = base
        for page in stride(from: 0, to: 300, by: 10) { next[page * 4096] ^= 0xff }
        TestFiles.write(next, to: dir.file("mem1"))
        let second = try b.capture(dir.file("mem1")).image
        #expect(second.newChunks > 0 && second.newChunks <= 30)   // dedup against A's chunks: only changed pages are new

        let a2 = try ContentStore.join(at: dir.file("host-a2"), backends: backends, keyFile: keyCopy, masterKeyFile: masterCopy)
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

    @Test("gc waits for a writer on another host that started before it, and keeps what that writer used")
    func gcWaitsForOlderWriters() throws {
        let dir = TemporaryDirectory()
        let backends = try TestStores.fleetBackends()
        let a = try ContentStore.create(at: dir.file("a"), backends: backends)
        let b = try ContentStore.join(at: dir.file("b"), backends: backends, keyFile: a.layout.keyPath)
        var gen = TestImage(seed: 43)
        let bytes = gen.bytes(pages: 64)
        TestFiles.write(bytes, to: dir.file("mem"))
        let image = try a.capture(dir.file("mem")).image
        let pack = try #require(try a.catalog.packs().first?.id)
        let manifest = try a.encodedManifest(of: image.id)

        // B's writer starts (its index has the pack) before A removes the image and collects.
        let lease = try b.catalog.beginWriter(kind: "capture")
        _ = try a.removeImage(image.id)
        let first = try a.gc()
        #expect(first.packsWaiting == [pack] && first.packsDeleted.isEmpty)
        #expect(try a.catalog.packs().map(\.id) == [pack])

        // B commits an image made of the same chunks (as a capture that deduplicated would).
        try b.publish(packs: [], manifest: (b.manifestFiles.stored(manifest, id: image.id), image.id), lease: lease)
        try b.catalog.commitCapture(packs: [], image: image, lease: lease)
        let second = try a.gc()
        #expect(second.packsDeleted.isEmpty && second.packsWaiting.isEmpty)
        let c = try ContentStore.join(at: dir.file("c"), backends: backends, keyFile: a.layout.keyPath)
        _ = try c.materialize(image.id, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == bytes)

        // Once nothing references it and no writer is older, the pack and its object go.
        _ = try a.removeImage(image.id)
        let third = try a.gc()
        #expect(third.packsDeleted == [pack] && third.objectsRemoved == [ObjectKey.manifest(id: image.id).rawValue])
        let storage = try #require(a.objects?.storage)
        let left = try BlockingAsync.run { () async throws(ObjectStorageError) in try await storage.list(prefix: "packs/") }
        #expect(left.isEmpty)
        #expect(try c.verify(deep: true).ok)
    }

    @Test("captures on two hosts while a third collects in a loop: every committed image stays whole")
    func concurrentHosts() throws {
        let dir = TemporaryDirectory()
        let backends = try TestStores.fleetBackends()
        let first = try ContentStore.create(at: dir.file("h0"), backends: backends)
        let hosts = try [first] + (1...2).map { try ContentStore.join(at: dir.file("h\($0)"), backends: backends, keyFile: first.layout.keyPath) }
        let kept = Mutex<[(id: String, bytes: [UInt8])]>([])
        let failures = Mutex<[String]>([])
        let writersDone = Atomic<Int>(0)
        let root = dir.path
        DispatchQueue.concurrentPerform(iterations: 3) { worker in
            do {
                if worker == 2 {
                    // The collector: until both writers are done, and once more after.
                    while writersDone.load(ordering: .acquiring) < 2 { _ = try hosts[2].gc() }
                    _ = try hosts[2].gc()
                    return
                }
                var gen = TestImage(seed: 100 + UInt64(worker))
                var previous: String?
                for round in 0..<6 {
                    var bytes = gen.bytes(pages: 48)
                    bytes[0] = UInt8(round)
                    let path = root + "/w\(worker)-\(round)"
                    TestFiles.write(bytes, to: path)
                    let image = try hosts[worker].capture(path).image
                    // Every other image is removed again: garbage for the collector, while its
                    // chunks may be shared with the next capture.
                    if let previous { _ = try hosts[worker].removeImage(previous) }
                    if round % 2 == 0 { previous = image.id } else { previous = nil; kept.withLock { $0.append((image.id, bytes)) } }
                }
            } catch {
                failures.withLock { $0.append("worker \(worker): \(error)") }
            }
            if worker < 2 { writersDone.add(1, ordering: .releasing) }
        }
        #expect(failures.withLock { $0 } == [])
        let reader = try ContentStore.join(at: dir.file("reader"), backends: backends, keyFile: first.layout.keyPath)
        for (n, image) in kept.withLock({ $0 }).enumerated() {
            _ = try reader.materialize(image.id, to: dir.file("out\(n)"))
            #expect(TestFiles.read(dir.file("out\(n)")) == image.bytes, "image \(image.id)")
        }
        #expect(try reader.verify(deep: true).ok)
    }

    @Test("object storage failing mid-capture: a clear error, nothing committed; brief failures are retried")
    func objectStorageFaults() async throws {
        let dir = TemporaryDirectory()
        guard case .shared(let catalog, let objects, _, _) = try TestStores.fleetBackends() else { return }
        let a = try ContentStore.create(at: dir.file("a"), backends: .shared(catalog: catalog, objects: objects))
        let endpoint = try #require(URL(string: ProcessInfo.processInfo.environment["AWS_ENDPOINT_URL"] ?? ""))
        var gen = TestImage(seed: 47)
        let bytes = gen.bytes(pages: 400)
        TestFiles.write(bytes, to: dir.file("mem"))
        // Many packs, each uploaded in the background as soon as it is written.
        var smallPacks = CaptureOptions()
        smallPacks.packTargetSize = 64 << 10

        let down = try FaultProxy(upstreamHost: endpoint.host!, upstreamPort: endpoint.port ?? 80, mode: .status503, count: 1_000_000)
        defer { down.stop() }
        let b = try joined(dir.file("b"), catalog: catalog, objects: objects, key: a.layout.keyPath, endpoint: "http://127.0.0.1:\(down.port)")
        #expect {
            _ = try b.capture(dir.file("mem"), options: smallPacks)
        } throws: { error in
            guard case StoreError.objects = error else { return false }
            return "\(error)".contains("127.0.0.1:\(down.port)")
        }
        #expect(try a.catalog.images().isEmpty && a.catalog.packs().isEmpty)
        #expect(try a.catalog.read { db in try db.query("SELECT id FROM writer_leases", []) }.isEmpty)
        #expect(try FileSystem.list(b.layout.temporaryDirectory).isEmpty, "an upload link or a pack was left in tmp/")

        let flaky = try FaultProxy(upstreamHost: endpoint.host!, upstreamPort: endpoint.port ?? 80, mode: .status503, count: 2)
        defer { flaky.stop() }
        let c = try joined(dir.file("c"), catalog: catalog, objects: objects, key: a.layout.keyPath, endpoint: "http://127.0.0.1:\(flaky.port)")
        let captured = try c.capture(dir.file("mem"), options: smallPacks)
        #expect(captured.packs.count >= 3)
        #expect(try FileSystem.list(c.layout.temporaryDirectory).isEmpty)
        // Every pack the commit names is in the bucket.
        for pack in captured.packs {
            #expect(try BlockingAsync.run { () async throws(ObjectStorageError) in try await a.objects!.storage.head(.pack(id: pack)) } != nil)
        }
        _ = try a.materialize(captured.image.id, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == bytes)
    }

    /// A host joined directly, whose descriptor then names `endpoint` for the objects (as an
    /// operator who puts a proxy in front of the service would).
    func joined(_ root: String, catalog: PostgresCatalogConfiguration, objects: String, key: String, endpoint: String) throws -> ContentStore {
        let store = try ContentStore.join(at: root, backends: .shared(catalog: catalog, objects: objects), keyFile: key)
        var descriptor = try #require(store.descriptor)
        descriptor.objectsEndpoint = endpoint
        try descriptor.write(store.layout)
        return try ContentStore.open(at: root)
    }

    @Test("a cold restore of many packs fetches each once and caches exactly the image's packs")
    func coldRestoreOfManyPacks() throws {
        let dir = TemporaryDirectory()
        let backends = try TestStores.fleetBackends()
        let a = try ContentStore.create(at: dir.file("a"), backends: backends)
        var gen = TestImage(seed: 53)
        let bytes = gen.bytes(pages: 3072)
        TestFiles.write(bytes, to: dir.file("mem"))
        var options = CaptureOptions()
        options.packTargetSize = 32 << 10
        let captured = try a.capture(dir.file("mem"), options: options)
        #expect(captured.packs.count > 20)
        for round in 0..<3 {
            let b = try ContentStore.join(at: dir.file("b\(round)"), backends: backends, keyFile: a.layout.keyPath)
            _ = try b.materialize(captured.image.id, to: dir.file("out\(round)"))
            #expect(TestFiles.read(dir.file("out\(round)")) == bytes)
            let cached = try FileSystem.list(b.layout.packsDirectory).filter { $0.count == 2 }
                .flatMap { (try? FileSystem.list(b.layout.packsDirectory + "/" + $0)) ?? [] }
            #expect(Set(cached.map { String($0.dropLast(5)) }) == Set(captured.packs))
            #expect(try FileSystem.list(b.layout.temporaryDirectory).isEmpty)
        }
    }

    @Test("a plain verify on a host with an empty cache downloads nothing, and still finds a missing or resized pack object")
    func verifyWithoutDownloading() throws {
        let dir = TemporaryDirectory()
        let backends = try TestStores.fleetBackends()
        let a = try ContentStore.create(at: dir.file("a"), backends: backends)
        var gen = TestImage(seed: 59)
        TestFiles.write(gen.bytes(pages: 600), to: dir.file("mem"))
        var options = CaptureOptions()
        options.packTargetSize = 64 << 10
        let captured = try a.capture(dir.file("mem"), options: options)
        #expect(captured.packs.count >= 3)
        let b = try ContentStore.join(at: dir.file("b"), backends: backends, keyFile: a.layout.keyPath)
        #expect(try b.verify().ok)
        let cached = try FileSystem.list(b.layout.packsDirectory).filter { $0.count == 2 }
        #expect(cached.isEmpty, "a plain verify downloaded packs: \(cached)")

        // One object gone, another replaced by a shorter one: both named, still nothing cached.
        let storage = try #require(a.objects?.storage)
        let (gone, cut) = (captured.packs[0], captured.packs[1])
        let original = try BlockingAsync.run { () async throws(ObjectStorageError) in try await storage.get(.pack(id: cut)) }
        try BlockingAsync.run { () async throws(ObjectStorageError) in
            try await storage.delete(.pack(id: gone))
            try await storage.put(.pack(id: cut), bytes: Array(original.dropLast(100)))
        }
        let report = try b.verify()
        #expect(report.problems.contains { $0.kind == "missing-pack" && $0.subject == gone })
        #expect(report.problems.contains { $0.subject == cut && ($0.kind == "pack-mismatch" || $0.kind == "corrupt-pack") })
        #expect(try FileSystem.list(b.layout.packsDirectory).filter { $0.count == 2 }.isEmpty)
        // Deep reads what is left, and names the same two.
        let deep = try b.verify(deep: true)
        #expect(!deep.ok && deep.problems.contains { $0.subject == gone })
    }

    @Test("an image that reads a small part of packs this host lacks fetches only those frames, with ranged GETs; damage in them is still caught")
    func rangedReads() throws {
        let dir = TemporaryDirectory()
        let backends = try TestStores.fleetBackends()
        let a = try ContentStore.create(at: dir.file("a"), backends: backends)
        var gen = TestImage(seed: 61)
        let big = gen.bytes(pages: 4000)   // one pack of about 16 MiB
        TestFiles.write(big, to: dir.file("big"))
        _ = try a.capture(dir.file("big"))
        // A small image made of two distant pieces of it: pages 0..<10 and page 3000.
        var small = [UInt8](repeating: 0, count: 64 * 4096)
        small.replaceSubrange(0..<10 * 4096, with: big[0..<10 * 4096])
        small.replaceSubrange(20 * 4096..<21 * 4096, with: big[3000 * 4096..<3001 * 4096])
        TestFiles.write(small, to: dir.file("small"))
        let captured = try a.capture(dir.file("small")).image
        #expect(captured.newChunks == 0)

        let b = try ContentStore.join(at: dir.file("b"), backends: backends, keyFile: a.layout.keyPath)
        let planned = try b.packSources(of: captured.id)
        #expect(planned.rangedPacks >= 1 && planned.wholePacks == 0 && planned.cachedPacks == 0 && planned.rangedRequests >= planned.rangedPacks)
        #expect(planned.rangedBytes > 0 && planned.rangedBytes < 2 << 20, "\(planned)")
        let result = try b.materialize(captured.id, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == small)
        #expect(result.sources == planned)
        // Nothing cached under a pack's name, nothing left in tmp/.
        #expect(try FileSystem.list(b.layout.packsDirectory).filter { $0.count == 2 }.allSatisfy {
            try FileSystem.list(b.layout.packsDirectory + "/" + $0).isEmpty
        })
        #expect(try FileSystem.list(b.layout.temporaryDirectory).isEmpty)

        // A flipped byte inside a frame the ranged GETs read: refused, no output, nothing left.
        let storage = try #require(a.objects?.storage)
        let index = try a.loadIndex()
        let firstPage = big[0..<4096].withUnsafeBytes { ChunkHasher.id(of: $0) }
        let location = try #require(index.location(of: firstPage))
        let pack = index.packIDs[Int(location.pack)]
        var object = try BlockingAsync.run { () async throws(ObjectStorageError) in try await storage.get(.pack(id: pack)) }
        object[Int(index.frame(of: location).offset) + 20] ^= 0x40
        let damaged = object
        try BlockingAsync.run { () async throws(ObjectStorageError) in try await storage.put(.pack(id: pack), bytes: damaged) }
        let c = try ContentStore.join(at: dir.file("c"), backends: backends, keyFile: a.layout.keyPath)
        #expect { _ = try c.materialize(captured.id, to: dir.file("out2")) } throws: { error in
            if case StoreError.corruptChunk(_, let p, _, _) = error { return p == pack }
            return false
        }
        #expect(!FileSystem.exists(dir.file("out2")))
        #expect(try FileSystem.list(c.layout.temporaryDirectory).isEmpty)
    }
}
