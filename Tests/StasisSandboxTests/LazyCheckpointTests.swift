import Foundation
import StasisStoreTestSupport
import Testing
import StasisIO
@testable import StasisRestore
@testable import StasisSandbox
@testable import StasisSessions
@testable import StasisStore

/// The overlay is the dirty map (issue 12 item 4), in the lazy-restore suite (one VM at a time).
/// Invariants checked:
/// - a checkpoint of a lazily restored guest reads only the chunks the guest wrote since its
///   restore (the capture's own count of bytes read), against the image it was restored from;
/// - while a guest process writes memory continuously, the captured image is bit for bit the
///   guest's memory at the stop (copied whole through the FUSE file in the pause): pages dirty in
///   the page cache but not yet written back are in it;
/// - restored eagerly, the checkpoint holds the files written before and after the lazy restore.
extension LazyRestoreTests {
    @Test("a checkpoint of a lazy guest reads only what it wrote, and is its memory at the stop")
    func dirtyMapCheckpoint() throws {
        let atStop = NSTemporaryDirectory() + "lazy-at-stop-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        defer { try? FileManager.default.removeItem(atPath: atStop) }
        // In the pause, before anything else: guest memory as it is, read whole through the
        // FUSE file (the page cache, dirty pages included).
        let driver = QEMUMicrovmDriver(faultHook: { point, dir in
            // (Every checkpoint's pause: the last one's copy is kept.)
            if point == "capture.paused" {
                try? FileManager.default.removeItem(atPath: atStop)
                _ = try? FileSystem.sparseCopy(from: dir.memory, to: atStop)
            }
        })
        let f = try Fixture(driver: driver)
        let memoryBytes: Int64 = 256 << 20
        let (s, checkpoint, digest) = try f.pausedGuest(memoryBytes: memoryBytes)
        let served = try #require(try f.service.sessions.checkpoint(checkpoint).record.images["memory"])
        let resumed = try f.service.resume(s)
        #expect(resumed.lazyMemory)
        // Known writes, and a writer that never stops (it runs through the checkpoint).
        let known = try f.out(s, "head -c 16000000 /dev/urandom > /tmp/known && md5sum /tmp/known")
        _ = try f.service.exec(s, "(i=0; while true; do i=$((i+1)); dd if=/dev/urandom of=/tmp/churn bs=65536 count=8 conv=notrunc 2>/dev/null; echo $i > /tmp/seq; done) >/dev/null 2>&1 &")
        usleep(500_000)

        let result = try f.service.checkpoint(s)
        #expect(result.memoryBase == served, "\(result)")
        let read = try #require(result.memoryReadBytes)
        #expect(read >= 16_000_000, "read \(read) bytes; the guest wrote 16 MB")
        #expect(read <= result.memoryCopiedBytes)
        #expect(read < memoryBytes / 4, "read \(read) of \(memoryBytes) bytes: not only what was written")
        let captured = try f.service.sessions.checkpoint(result.checkpoint).record
        #expect(captured.meta["memory_capture"]?.stringValue == "stopped, dirty map")
        let image = try #require(captured.images["memory"])
        let materialized = f.path + "/captured.mem"
        _ = try f.store.materialize(image, to: materialized)
        let map = DirtyMap.load(SandboxDirectory(path: resumed.plan.directory))
        let differing = try Self.differingChunks(materialized, atStop, chunkSize: map?.chunkSize ?? 4096)
        let firstDiffering = Array(differing.prefix(20))
        #expect(differing.isEmpty, "the captured image is not the guest's memory at the stop: \(differing.count) chunks differ, first \(firstDiffering); the dirty map has \(map?.dirty.count ?? -1) chunks")

        // The guest runs on; a pause of it, restored eagerly, holds everything.
        #expect(Int(try f.out(s, "cat /tmp/seq")) != nil)
        let paused = try f.service.checkpoint(s, stop: true)
        _ = try f.service.resume(s, checkpoint: paused.checkpoint, eager: true)
        #expect(try f.out(s, "md5sum /tmp/random") == digest)
        #expect(try f.out(s, "md5sum /tmp/known") == known)
        #expect(try f.out(s, "cat /mnt/disk/file.txt") == "persisted")
        _ = try f.service.stop(s, unsaved: .discard)
        // And the first one, eagerly: the known file as it was.
        _ = try f.service.resume(s, checkpoint: result.checkpoint, eager: true)
        #expect(try f.out(s, "md5sum /tmp/known") == known)
        _ = try f.service.stop(s, unsaved: .discard)
    }

    /// Indexes of the `chunkSize` pieces in which two files of one size differ.
    static func differingChunks(_ a: String, _ b: String, chunkSize: Int) throws -> [Int] {
        let x = try FileDescriptor.open(a, .readOnly), y = try FileDescriptor.open(b, .readOnly)
        defer { x.close(); y.close() }
        var p = [UInt8](repeating: 0, count: chunkSize), q = p
        var out: [Int] = []
        var i = 0
        while true {
            let n = p.withUnsafeMutableBytes { pread(x.rawValue, $0.baseAddress, chunkSize, off_t(i * chunkSize)) }
            let m = q.withUnsafeMutableBytes { pread(y.rawValue, $0.baseAddress, chunkSize, off_t(i * chunkSize)) }
            if n <= 0 && m <= 0 { break }
            if n != m || p[0..<max(n, 0)] != q[0..<max(m, 0)] { out.append(i) }
            i += 1
        }
        return out
    }
}
