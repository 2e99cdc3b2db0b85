import Foundation
import StasisStoreTestSupport
import Testing
import StasisIO
@testable import StasisRestore
@testable import StasisSandbox
@testable import StasisSessions
@testable import StasisStore

/// Lazy restores on a real microVM: memory served by the page server (`stasis sandbox
/// page-server`, the binary built beside the tests) from the store on first touch.
/// Invariants checked:
/// - what the FUSE file serves is the memory image bit for bit (read through it whole);
/// - a lazily resumed guest keeps its processes, memory and files, hydrates to 100% local, and a
///   checkpoint of it (read through the FUSE file) restores eagerly to the same state;
/// - a corrupted chunk is caught at the fault or during hydration: the VM is stopped and the
///   error names the chunk; it never runs on what it lacks;
/// - killing the page server stops the VM and the sandbox is reported failed.
enum LazyRestore {
    /// The `stasis` binary built beside the tests (override with STASIS_BIN) as page server.
    static var pageServer: PageServerLauncher? {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let binary = ProcessInfo.processInfo.environment["STASIS_BIN"] ?? url.path + "/.build/debug/stasis"
        return FileManager.default.isExecutableFile(atPath: binary) ? PageServerLauncher(executable: binary) : nil
    }
}

@Suite("Lazy restores on a real microVM", .serialized,
       .enabled(if: MicroVM.available && LazyRestore.pageServer != nil && geteuid() == 0, "needs QEMU, the guest image, root (FUSE) and the stasis binary"))
struct LazyRestoreTests {

    final class Fixture {
        let path = NSTemporaryDirectory() + "lazy-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let service: SandboxService
        let store: ContentStore
        init(driver: QEMUMicrovmDriver = QEMUMicrovmDriver(), pageServer: PageServerLauncher? = LazyRestore.pageServer) throws {
            store = try TestStores.create(at: path + "/s")
            service = SandboxService(sessions: SessionStore(store: store), driver: driver, sandboxesDirectory: path + "/x", pageServer: pageServer)
        }
        /// Reads the file at `served` whole, in odd-sized pieces, and counts the pieces that
        /// differ from `expected` (sizes must match).
        func mismatches(_ served: String, _ expected: String) throws -> Int {
            let a = try FileDescriptor.open(served, .readOnly)
            let b = try FileDescriptor.open(expected, .readOnly)
            defer { a.close(); b.close() }
            let size = try FileSystem.fileSize(expected)
            #expect(try FileSystem.fileSize(served) == size)
            var x = [UInt8](repeating: 0, count: 3 << 20), y = x
            var offset: Int64 = 0
            var differing = 0
            while offset < size {
                let n = x.withUnsafeMutableBytes { pread(a.rawValue, $0.baseAddress, $0.count, off_t(offset)) }
                let m = y.withUnsafeMutableBytes { pread(b.rawValue, $0.baseAddress, $0.count, off_t(offset)) }
                try #require(n > 0 && m > 0)
                if n != m || x[0..<n] != y[0..<m] { differing += 1 }
                offset += Int64(max(n, 1))
            }
            return differing
        }
        deinit {
            for r in service.list() {
                let dir = SandboxDirectory(path: r.directory)
                try? service.driver.stop(dir)
                PageServerLauncher.release(dir)
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        func out(_ session: String, _ command: String) throws -> String {
            try service.exec(session, command).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        /// A paused guest (256 MiB unless said) holding 40 MB of random bytes in tmpfs, a counting
        /// process and a file on its disk; returns the session, the checkpoint and the data's md5.
        func pausedGuest(memoryBytes: Int64 = 256 << 20) throws -> (session: String, checkpoint: String, digest: String) {
            let run = try service.run(memoryBytes: memoryBytes, diskBytes: 128 << 20)
            let s = run.session
            let digest = try out(s, "head -c 40000000 /dev/urandom > /tmp/random && md5sum /tmp/random")
            _ = try service.exec(s, "(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.1; done) >/dev/null 2>&1 &")
            _ = try service.exec(s, "echo persisted > /mnt/disk/file.txt && sync")
            let paused = try service.checkpoint(s, stop: true)
            return (s, paused.checkpoint, digest)
        }
        /// Waits (bounded) until the page server's status satisfies `done`.
        func waitStatus(_ dir: SandboxDirectory, seconds: Double = 180, _ done: (PageServerStatus) -> Bool) -> PageServerStatus? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let s = PageServerStatus.load(dir), done(s) { return s }
                usleep(50_000)
            }
            return PageServerStatus.load(dir)
        }
    }

    @Test("the FUSE file serves the memory image bit for bit")
    func servesTheImage() throws {
        let f = try Fixture()
        // Every byte of the image is read through the mount: a smaller guest keeps it quick.
        let (_, checkpoint, _) = try f.pausedGuest(memoryBytes: 128 << 20)
        let image = try #require(try f.service.sessions.checkpoint(checkpoint).record.images["memory"])
        let eager = f.path + "/eager.mem"
        _ = try f.store.materialize(image, to: eager)
        let plan = try f.service.planner.plan(checkpoint, accelerator: "tcg", directory: f.path + "/x/served", lazyMemory: true)
        #expect(plan.images.first { $0.name == "memory" }?.lazy == true)
        #expect(plan.explanation.contains("lazy: mounted from the store"))
        _ = try f.service.executor.execute(plan, start: false)
        let dir = SandboxDirectory(path: plan.directory)
        defer { PageServerLauncher.release(dir) }
        // Read through the mount in odd-sized pieces; compare with the eager copy.
        let served = try FileDescriptor.open(dir.memory, .readOnly)
        let expected = try FileDescriptor.open(eager, .readOnly)
        defer { served.close(); expected.close() }
        let size = try FileSystem.fileSize(eager)
        #expect(try FileSystem.fileSize(dir.memory) == size)
        var a = [UInt8](repeating: 0, count: 3 << 20), b = a
        var offset: Int64 = 0
        var mismatches = 0
        while offset < size {
            let n = a.withUnsafeMutableBytes { pread(served.rawValue, $0.baseAddress, $0.count, off_t(offset)) }
            let m = b.withUnsafeMutableBytes { pread(expected.rawValue, $0.baseAddress, $0.count, off_t(offset)) }
            try #require(n > 0 && m > 0)
            #expect(n == m)
            if a[0..<n] != b[0..<m] { mismatches += 1 }
            offset += Int64(n)
        }
        #expect(mismatches == 0)
        let status = try #require(PageServerStatus.load(dir))
        #expect(status.state == .serving)   // no VM was handed off: nothing hydrates
    }

    @Test("a lazily resumed guest keeps processes and files, hydrates, and checkpoints correctly")
    func resumeHydrateCheckpoint() throws {
        let f = try Fixture()
        let (s, _, digest) = try f.pausedGuest()
        let resumed = try f.service.resume(s)
        #expect(resumed.lazyMemory)
        let dir = SandboxDirectory(path: resumed.plan.directory)
        let before = Int(try f.out(s, "cat /tmp/counter")) ?? 0
        usleep(400_000)
        #expect((Int(try f.out(s, "cat /tmp/counter")) ?? 0) > before)      // the process runs on
        #expect(try f.out(s, "md5sum /tmp/random") == digest)
        #expect(try f.out(s, "cat /mnt/disk/file.txt") == "persisted")
        let hydrated = try #require(f.waitStatus(dir) { $0.state != .serving && $0.state != .hydrating })
        #expect(hydrated.state == .hydrated, "\(hydrated)")
        #expect(hydrated.localChunks == hydrated.chunks && hydrated.hydrationMs != nil)
        #expect(f.service.list().first { $0.directory == dir.path }?.memory == "hydrated")
        // New work after the lazy restore, then a pause read through the FUSE file.
        let second = try f.out(s, "head -c 8000000 /dev/urandom > /tmp/after && md5sum /tmp/after")
        let paused = try f.service.checkpoint(s, stop: true)
        #expect(!FileManager.default.fileExists(atPath: dir.path))
        let eager = try f.service.resume(s, checkpoint: paused.checkpoint, eager: true)
        #expect(!eager.lazyMemory)
        #expect(try f.out(s, "md5sum /tmp/random") == digest)
        #expect(try f.out(s, "md5sum /tmp/after") == second)
        _ = try f.service.stop(s, unsaved: .discard)
    }

    @Test("a corrupted chunk stops the VM with an error naming it")
    func corruptChunk() throws {
        let f = try Fixture()
        let (s, checkpoint, _) = try f.pausedGuest()
        let image = try #require(try f.service.sessions.checkpoint(checkpoint).record.images["memory"])
        let manifest = try f.store.manifest(of: image)
        // A data chunk in the last third of the image (the random bytes), and its frame.
        let index = try f.store.loadIndex()
        let dataChunks = manifest.chunks.enumerated().compactMap { i, c in c.map { (i, $0) } }
        let (_, victim) = dataChunks[dataChunks.count * 2 / 3]
        let loc = try #require(index.location(of: victim))
        let pack = index.packIDs[Int(loc.pack)]
        let frame = index.frame(of: loc)
        let packPath = f.store.layout.packPath(for: pack)
        chmod(packPath, 0o644)
        let fd = open(packPath, O_RDWR)
        try #require(fd >= 0)
        var byte: UInt8 = 0
        let at = off_t(frame.offset + Int64(frame.storedLength / 2))
        #expect(pread(fd, &byte, 1, at) == 1)
        byte ^= 0xFF
        #expect(pwrite(fd, &byte, 1, at) == 1)
        close(fd)
        let inFrame = Set(dataChunks.filter { index.location(of: $0.1).map { $0.pack == loc.pack && $0.frame == loc.frame } ?? false }.map { $0.1.hex })

        do {
            let resumed = try f.service.resume(s)
            // The guest did not touch the frame while resuming: hydration reaches it.
            let dir = SandboxDirectory(path: resumed.plan.directory)
            let status = try #require(f.waitStatus(dir) { $0.state == .failed || $0.state == .hydrated })
            #expect(status.state == .failed)
            let error = try #require(status.error)
            #expect(inFrame.contains { error.contains($0) }, "\(error)")
            #expect(error.contains("hash") || error.contains("corrupt") || error.contains("decode") || error.contains("damaged"), "\(error)")
            for _ in 0..<250 where dir.runningPID != nil { usleep(20_000) }
            #expect(dir.runningPID == nil, "the VM runs on after a failed chunk")
            #expect(f.service.list().first { $0.directory == dir.path }?.memory?.hasPrefix("failed: ") == true)
        } catch let error as SandboxError {
            // The guest touched it first, while resuming: the restore fails naming it.
            guard case .lazyMemory(_, let detail) = error else { Issue.record("unexpected: \(error)"); return }
            #expect(inFrame.contains { detail.contains($0) }, "\(detail)")
            #expect(f.service.list().isEmpty)
        }
    }

    @Test("killing the page server stops the VM and the sandbox is reported failed")
    func pageServerKilled() throws {
        let f = try Fixture()
        let (s, _, _) = try f.pausedGuest()
        let resumed = try f.service.resume(s)
        let dir = SandboxDirectory(path: resumed.plan.directory)
        #expect(try f.out(s, "echo alive") == "alive")
        let status = try #require(PageServerStatus.load(dir))
        // Let the watchdog start (the page server starts it at hand-off).
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && !Self.watchdogRuns(dir) { usleep(20_000) }
        #expect(Self.watchdogRuns(dir))
        kill(status.pid, SIGKILL)
        for _ in 0..<500 where dir.runningPID != nil { usleep(20_000) }
        #expect(dir.runningPID == nil, "the VM runs on without its page server")
        let after = try #require(f.waitStatus(dir, seconds: 10) { $0.state == .failed })
        #expect(after.state == .failed && after.error?.contains("page server") == true)
        #expect(throws: SandboxError.self) { _ = try f.service.exec(s, "true") }
    }

    static func watchdogRuns(_ dir: SandboxDirectory) -> Bool {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.contains { pid in
            guard Int32(pid) != nil, let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let text = String(decoding: cmd, as: UTF8.self)
            return text.contains("--watch") && text.contains(dir.path)
        }
    }
}
