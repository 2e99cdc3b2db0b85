import Foundation
import StasisStoreTestSupport
import Testing
import StasisIO
@testable import StasisRestore
@testable import StasisSandbox
@testable import StasisSessions
@testable import StasisStore

/// Prefetch in recorded order (issue 12 item 3), in the lazy-restore suite (one VM at a time).
/// Invariants checked:
/// - the first lazy restore of a checkpoint records the order of first touches and stores it
///   with the checkpoint (a catalog row naming a verified blob, kept by `gc`);
/// - `restore plan --explain` says whether an order is recorded and its length;
/// - the next lazy restore prefetches that order, and what it serves is the memory image bit for
///   bit (read whole through the FUSE file, against an eager copy); the guest runs on;
/// - a recorded order that is wrong (bytes of another blob, an order of another image, an index
///   outside the image) is refused with a warning, and memory is still exact.
extension LazyRestoreTests {
    static var shortWindow: PageServerLauncher? {
        LazyRestore.pageServer.map { PageServerLauncher(executable: $0.executable, orderSeconds: 3) }
    }

    @Test("the first lazy restore records an access order; the next prefetches it, bit-exact")
    func recordedOrderPrefetched() throws {
        let f = try Fixture(pageServer: Self.shortWindow)
        let (s, checkpoint, digest) = try f.pausedGuest()
        let image = try #require(try f.service.sessions.checkpoint(checkpoint).record.images["memory"])
        let manifest = try f.store.manifest(of: image)
        let before = try f.service.plan(checkpoint)
        #expect(before.images.first { $0.name == "memory" }?.recordedOrderChunks == nil)
        #expect(before.explanation.contains("no recorded access order"))

        // First restore: records.
        let first = try f.service.resume(s)
        let firstDir = SandboxDirectory(path: first.plan.directory)
        #expect(try f.out(s, "md5sum /tmp/random") == digest)
        let recorded = try #require(f.waitStatus(firstDir, seconds: 120) { $0.recordedChunks != nil || $0.orderWarning != nil })
        #expect(recorded.orderWarning == nil, "\(recorded)")
        let count = try #require(recorded.recordedChunks)
        #expect(count > 0 && count <= AccessRecorder.defaultLimit(chunkSize: manifest.chunkSize))
        let row = try #require(try f.service.sessions.accessOrderRow(checkpoint: checkpoint, image: image))
        #expect(row.chunks == count)
        let order = try #require(try f.service.sessions.accessOrder(checkpoint: checkpoint, image: image, chunkSize: manifest.chunkSize,
                                                                    chunkCount: manifest.chunks.count))
        #expect(order.chunks.count == count && Set(order.chunks).count == count)
        _ = try f.service.stop(s, unsaved: .discard)
        // Referenced: gc keeps the order's blob.
        _ = try f.store.gc()
        #expect(try f.store.blob(row.blob) == order.encoded())

        // The plan says so; a restore that does not start the VM prefetches from the mount on.
        let plan = try f.service.planner.plan(checkpoint, accelerator: "tcg", directory: f.path + "/x/second", lazyMemory: true)
        let planned = try #require(plan.images.first { $0.name == "memory" })
        #expect(planned.recordedOrderChunks == count && planned.recordedOrderBlob == row.blob)
        #expect(plan.explanation.contains("recorded access order of \(count) chunks"))
        let eager = f.path + "/eager.mem"
        _ = try f.store.materialize(image, to: eager)
        do {
            _ = try f.service.executor.execute(plan, start: false)
            let dir = SandboxDirectory(path: plan.directory)
            defer { PageServerLauncher.release(dir) }
            let status = try #require(f.waitStatus(dir, seconds: 120) { $0.prefetchMs != nil || $0.state == .failed })
            #expect(status.prefetchChunks == count && status.orderWarning == nil, "\(status)")
            #expect(status.fetchedBytes > 0)
            #expect(try f.mismatches(dir.memory, eager) == 0)
        }

        // A started restore with the order: the guest and its data are there.
        let second = try f.service.resume(s)
        let dir = SandboxDirectory(path: second.plan.directory)
        #expect(PageServerStatus.load(dir)?.prefetchChunks == count)
        #expect(try f.out(s, "md5sum /tmp/random") == digest)
        #expect(try f.out(s, "cat /mnt/disk/file.txt") == "persisted")
        let hydrated = try #require(f.waitStatus(dir) { $0.state != .serving && $0.state != .hydrating })
        #expect(hydrated.state == .hydrated && hydrated.prefetchMs != nil, "\(hydrated)")
        #expect(hydrated.recordedChunks == nil)   // an order exists: none recorded again
        _ = try f.service.stop(s, unsaved: .discard)
    }

    @Test("a wrong recorded order is refused with a warning; memory is still exact")
    func tamperedOrder() throws {
        let f = try Fixture(pageServer: Self.shortWindow)
        let (_, checkpoint, _) = try f.pausedGuest(memoryBytes: 128 << 20)
        let record = try f.service.sessions.checkpoint(checkpoint).record
        let image = try #require(record.images["memory"])
        let manifest = try f.store.manifest(of: image)
        let eager = f.path + "/eager.mem"
        _ = try f.store.materialize(image, to: eager)
        let good = MemoryAccessOrder(image: image, chunkSize: manifest.chunkSize, chunks: Array(0..<64))
        try f.service.sessions.recordAccessOrder(checkpoint: checkpoint, good)
        let otherImage = try #require(record.images.first { $0.key != "memory" }?.value)
        let wrongBlobs: [(String, String)] = [
            (try #require(record.blobs["config"]), "not a memory access order"),
            (try f.store.putBlob(MemoryAccessOrder(image: otherImage, chunkSize: manifest.chunkSize, chunks: [0]).encoded()).id, "not of"),
            (try f.store.putBlob(MemoryAccessOrder(image: image, chunkSize: manifest.chunkSize, chunks: [manifest.chunks.count]).encoded()).id, "outside"),
        ]
        for (n, (blob, why)) in wrongBlobs.enumerated() {
            try f.store.catalog.database.write { db in
                try db.execute("UPDATE memory_access_orders SET blob_id = ?, chunks = 1 WHERE checkpoint_id = ?", blob, checkpoint)
            }
            let plan = try f.service.planner.plan(checkpoint, accelerator: "tcg", directory: f.path + "/x/t\(n)", lazyMemory: true)
            _ = try f.service.executor.execute(plan, start: false)
            let dir = SandboxDirectory(path: plan.directory)
            defer { PageServerLauncher.release(dir) }
            let status = try #require(PageServerStatus.load(dir))
            #expect(status.prefetchChunks == nil)
            let warning = try #require(status.orderWarning, "no warning for a wrong order (\(why))")
            #expect(warning.contains(why) && warning.contains(blob), "\(warning)")
            #expect(try f.mismatches(dir.memory, eager) == 0)
        }
    }
}
