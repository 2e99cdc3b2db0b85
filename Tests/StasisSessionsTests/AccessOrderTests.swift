import Foundation
import Testing
import StasisStore
@testable import StasisSessions

/// Invariants checked (no VM: the sessions layer alone):
/// - a recorded memory access order round-trips through its blob and row; the first recorded
///   stays; it names only an image of its checkpoint;
/// - reading refuses anything but an order of exactly this image (another image, another chunk
///   size, an index outside the image or twice, bytes of another blob, a length unlike the row's);
/// - the order and its blob go with the checkpoint;
/// - an incremental image captured against an explicit `base` (a lazily restored sandbox's
///   served image, not the parent checkpoint's) is that base with the diff's ranges.
@Suite("Memory access orders and diffs against a base")
struct AccessOrderTests {
    func checkpointWithMemory(_ t: TemporaryStore, _ bytes: [UInt8]) throws -> (session: String, checkpoint: Checkpoint) {
        let s = try t.sessions.createSession().id
        let c = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: t.write(bytes, "mem-\(bytes.count)"))],
                                                                  blobs: [.init(name: "config", path: t.write(Array("{}".utf8), "cfg"))]))
        return (s, c)
    }

    @Test("record, read back, refuse what is not this image's order, remove with the checkpoint")
    func recordAndVerify() throws {
        let t = try TemporaryStore()
        var rng = Rng(state: 9)
        let (_, c) = try checkpointWithMemory(t, rng.bytes(1 << 20))
        let image = try #require(c.record.images["memory"])
        let manifest = try t.sessions.store.manifest(of: image)
        let n = manifest.chunks.count
        #expect(try t.sessions.accessOrderRow(checkpoint: c.id, image: image) == nil)
        #expect(try t.sessions.accessOrder(checkpoint: c.id, image: image, chunkSize: manifest.chunkSize, chunkCount: n) == nil)

        let order = MemoryAccessOrder(image: image, chunkSize: manifest.chunkSize, chunks: [n - 1, 0, 3])
        let row = try t.sessions.recordAccessOrder(checkpoint: c.id, order)
        #expect(row.chunks == 3)
        #expect(try t.sessions.accessOrder(checkpoint: c.id, image: image, chunkSize: manifest.chunkSize, chunkCount: n) == order)
        // The first stays.
        let again = try t.sessions.recordAccessOrder(checkpoint: c.id, MemoryAccessOrder(image: image, chunkSize: manifest.chunkSize, chunks: [1]))
        #expect(again == row)
        // Only images of the checkpoint.
        #expect(throws: HistoryError.self) {
            try t.sessions.recordAccessOrder(checkpoint: c.id, MemoryAccessOrder(image: String(repeating: "a", count: 64), chunkSize: manifest.chunkSize, chunks: [0]))
        }

        // Wrong orders behind the row: refused, naming the blob.
        let store = t.sessions.store
        let wrong: [([UInt8], Int, String)] = [
            (Array("{}".utf8), 3, "not a memory access order"),
            (MemoryAccessOrder(image: String(repeating: "b", count: 64), chunkSize: manifest.chunkSize, chunks: [0]).encoded(), 1, "not of"),
            (MemoryAccessOrder(image: image, chunkSize: manifest.chunkSize * 2, chunks: [0]).encoded(), 1, "chunks"),
            (MemoryAccessOrder(image: image, chunkSize: manifest.chunkSize, chunks: [n]).encoded(), 1, "outside"),
            (MemoryAccessOrder(image: image, chunkSize: manifest.chunkSize, chunks: [2, 2]).encoded(), 2, "twice"),
            (MemoryAccessOrder(image: image, chunkSize: manifest.chunkSize, chunks: [2]).encoded(), 5, "catalog row says 5"),
        ]
        for (bytes, count, why) in wrong {
            let blob = try store.putBlob(bytes).id
            try store.catalog.database.write { db in
                try db.execute("UPDATE memory_access_orders SET blob_id = ?, chunks = ? WHERE checkpoint_id = ?", blob, count, c.id)
            }
            do {
                _ = try t.sessions.accessOrder(checkpoint: c.id, image: image, chunkSize: manifest.chunkSize, chunkCount: n)
                Issue.record("a wrong order was read (\(why))")
            } catch {
                #expect(error.description.contains(why) && error.description.contains(blob), "\(error)")
            }
        }

        // Goes with the checkpoint, blob included.
        try store.catalog.database.write { db in
            try db.execute("UPDATE memory_access_orders SET blob_id = ?, chunks = 3 WHERE checkpoint_id = ?", row.blob, c.id)
        }
        _ = try t.sessions.removeCheckpoint(c.id)
        #expect(throws: StoreError.self) { _ = try store.blob(row.blob) }
        let rows = try store.catalog.database.read { db in try db.query("SELECT blob_id FROM memory_access_orders").count }
        #expect(rows == 0)
    }

    @Test("an incremental image against an explicit base is that base plus the diff")
    func diffAgainstBase() throws {
        let t = try TemporaryStore()
        var rng = Rng(state: 10)
        var memory = rng.bytes(512 * 1024)
        let (s, first) = try checkpointWithMemory(t, memory)
        // A second checkpoint with other memory: the parent is no longer the base.
        _ = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: t.write(rng.bytes(512 * 1024), "other"))]))
        let base = try #require(first.record.images["memory"])
        let chunk = try t.sessions.store.manifest(of: base).chunkSize
        for i in chunk + 100..<2 * chunk + 100 { memory[i] = UInt8(truncatingIfNeeded: i &* 13) }
        let memPath = t.write(memory, "now")
        // The diff: a sparse file holding the changed chunks' ranges (chunks 1 and 2).
        let diff = t.file("diff")
        let fd = open(diff, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        ftruncate(fd, off_t(memory.count))
        _ = memory.withUnsafeBytes { pwrite(fd, $0.baseAddress! + chunk, 2 * chunk, off_t(chunk)) }
        close(fd)
        let c = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: memPath, dirty: diff, base: base)]))
        #expect(c.imageReadBytes["memory"] == Int64(2 * chunk))
        let out = t.file("out")
        _ = try t.sessions.store.materialize(c.record.images["memory"]!, to: out)
        #expect([UInt8](FileManager.default.contents(atPath: out)!) == memory)
    }
}
