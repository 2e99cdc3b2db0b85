import Foundation
import Synchronization
import StasisStoreTestSupport
import Testing
import StasisJSON
import StasisIO
@testable import StasisRestore
@testable import StasisSandbox
@testable import StasisSessions
import StasisStore

/// End to end on a real QEMU microvm (TCG here; KVM where it works). Invariants checked:
/// - a booted sandbox runs commands in one persistent shell; each command, its output and exit
///   code land in the session's history;
/// - a checkpoint (one pause) captures memory, device state and disk; the VM continues; a pause
///   frees it; resume restores into a fresh directory with a new identity and everything
///   survives: a process's in-memory counter keeps counting, files on the disk are there, shell
///   variables and the working directory are intact;
/// - a second checkpoint after a small change stores a small fraction of the guest's RAM;
/// - two sandboxes restored from one checkpoint run side by side, independent;
/// - the restore plan lists private writable files, read-only bases and new sockets, and the
///   executor checks them; a restore near a local ancestor patches it;
/// - faults: QEMU killed mid-checkpoint (no checkpoint committed), QEMU killed mid-restore (no
///   sandbox left), state from another machine (QEMU refuses, no sandbox left), an existing
///   sandbox directory, a missing guest image, a missing QEMU, a guest that does not answer.
enum MicroVM {
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-x86_64") && (try? GuestImage.locate()) != nil
    }
}

@Suite("Sandboxes on a real microVM", .serialized, .enabled(if: MicroVM.available, "needs QEMU and the guest image (Tools/guest/build.sh)"))
struct SandboxEndToEndTests {
    final class Fixture {
        let path = NSTemporaryDirectory() + "sbx-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let service: SandboxService
        init(driver: QEMUMicrovmDriver = QEMUMicrovmDriver()) throws {
            let store = try TestStores.create(at: path + "/s")
            service = SandboxService(sessions: SessionStore(store: store), driver: driver, sandboxesDirectory: path + "/x")
        }
        deinit {
            for r in service.list() { try? service.driver.stop(SandboxDirectory(path: r.directory)) }
            try? FileManager.default.removeItem(atPath: path)
        }
        func out(_ session: String, _ command: String) throws -> String {
            try service.exec(session, command).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    @Test("run, exec, checkpoint, pause, resume, fork")
    func lifecycle() throws {
        let f = try Fixture()
        let run = try f.service.run(memoryBytes: 256 << 20, diskBytes: 256 << 20)
        let s = run.session
        #expect(["kvm", "tcg"].contains(run.accelerator))
        #expect(try f.out(s, "echo hello") == "hello")
        try auditConfinement(SandboxDirectory(path: run.directory), store: f.path + "/s")
        let failing = try f.service.exec(s, "echo oops >&2; exit 3")
        #expect(failing.exitCode == 3 && failing.stderr == "oops\n")
        _ = try f.service.exec(s, "(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.1; done) >/dev/null 2>&1 &")
        // Written without a sync: the checkpoint must still find it on the disk image.
        _ = try f.service.exec(s, "mkdir -p /mnt/disk/job && echo notes > /mnt/disk/job/notes.txt")
        _ = try f.service.exec(s, "cd /mnt/disk && echo persisted > file.txt && sync && export MARK=42")
        usleep(300_000)

        let first = try f.service.checkpoint(s)
        #expect(first.downtimeMs > 0)
        #expect(try f.out(s, "echo $MARK") == "42")        // continued after the checkpoint
        // A small change, then a second checkpoint: it stores a small part of RAM.
        _ = try f.service.exec(s, "dd if=/dev/urandom of=/tmp/blob bs=1k count=512 2>/dev/null; echo ok")
        let second = try f.service.checkpoint(s)
        #expect(second.storedBytes < (256 << 20) * 15 / 100, "second checkpoint stored \(second.storedBytes) bytes")
        let checkpoint = try f.service.sessions.checkpoint(second.checkpoint)
        #expect(checkpoint.record.parent == first.checkpoint)
        // The guest synced before each pause: the first checkpoint's disk already holds the notes,
        // so nothing on the disk appears "added" between the two.
        #expect(checkpoint.record.meta["guest_sync"]?.stringValue == "freeze")
        // The sandbox kept running: its memory was copied live (the guest stopped only for the
        // last pages, the device state and the disk).
        #expect(checkpoint.record.meta["memory_capture"]?.stringValue == "live")
        let between = try f.service.sessions.diff(first.checkpoint, second.checkpoint)
        let added = between.images.first { $0.name.hasPrefix("disk:") }?.files?.added.map(\.path) ?? []
        #expect(!added.contains("/job/notes.txt"), "files added on the disk after the first checkpoint: \(added)")
        // The first checkpoint's disk alone holds the file (frozen: written back, journal included).
        var notes: [UInt8] = []
        _ = try f.service.sessions.readFile(atCheckpoint: first.checkpoint, path: "/job/notes.txt") { notes += $0 }
        #expect(notes == Array("notes\n".utf8))
        // Thawed after the checkpoint: the guest writes to its disk again.
        #expect(try f.out(s, "echo after > /mnt/disk/after.txt && cat /mnt/disk/after.txt") == "after")
        #expect(checkpoint.record.meta["downtime_ms"]?.doubleValue != nil && checkpoint.record.meta["accelerator"]?.stringValue == run.accelerator)

        let before = Int(try f.out(s, "cat /tmp/counter")) ?? -1
        let paused = try f.service.checkpoint(s, stop: true)
        #expect(paused.stopped)
        #expect(try f.service.sessions.checkpoint(paused.checkpoint).record.meta["memory_capture"]?.stringValue == "stopped")
        #expect(f.service.list().isEmpty)                   // VM and directory freed
        // A paused session is named as paused, with the checkpoint a resume starts from.
        do throws(SandboxError) { _ = try f.service.exec(s, "true"); Issue.record("exec ran on a paused session") } catch {
            guard case .paused(let session, let checkpoint) = error, session == s, checkpoint == paused.checkpoint else { Issue.record("got \(error)"); return }
        }
        #expect(try f.service.resumable().map(\.checkpoint) == [paused.checkpoint])

        let plan = try f.service.plan(paused.checkpoint)
        #expect(plan.images.allSatisfy { $0.writable } && plan.blobs.filter { ["kernel", "initrd", "state"].contains($0.name) }.allSatisfy { !$0.writable })
        #expect(plan.identity.sandbox != plan.previousIdentity?.sandbox && plan.identity.mac != plan.previousIdentity?.mac)
        #expect(plan.images.first { $0.name == "memory" }?.base != nil)   // the paused copy is a local base
        // Where the packs come from: this host's directory on one host, nothing to fetch when a
        // fleet host paused it here (its packs are in this host's cache).
        for image in plan.images {
            let sources = try #require(image.sources)
            #expect(sources.fetchedBytes == 0 && sources.cachedPacks == image.packs)
        }
        #expect(plan.explanation.contains("packs: "))

        let resumed = try f.service.resume(s)
        #expect(resumed.started && resumed.patchedFromBase["memory"] != nil)
        try auditConfinement(SandboxDirectory(path: resumed.plan.directory), store: f.path + "/s")
        let c1 = Int(try f.out(s, "cat /tmp/counter")) ?? -1
        usleep(600_000)
        let c2 = Int(try f.out(s, "cat /tmp/counter")) ?? -1
        #expect(c1 >= before && c2 > c1, "counter \(before) → \(c1) → \(c2)")
        #expect(try f.out(s, "cat file.txt") == "persisted")
        #expect(try f.out(s, "echo $MARK $(pwd)") == "42 /mnt/disk")

        // Fork a second sandbox from the same checkpoint: both run, independently.
        let fork = try f.service.restore(paused.checkpoint, start: true)
        let forkDir = SandboxDirectory(path: fork.plan.directory)
        _ = try f.service.exec(s, "echo only-in-original > mine.txt && sync")
        let seen = try f.service.driver.exec(forkDir, "cat /mnt/disk/mine.txt 2>/dev/null || echo absent; echo $MARK", timeout: 30).stdout
        #expect(seen == "absent\n42\n")
        let runningNow = f.service.list().filter { $0.pid != nil }
        #expect(runningNow.count == 2)
        #expect(Set(runningNow.map(\.session)).count == 2)      // the fork has a session of its own
        #expect(fork.plan.identity.sandbox != resumed.plan.identity.sandbox)
        #expect(try f.out(s, "cat mine.txt") == "only-in-original")
        #expect(throws: SandboxError.self) { _ = try f.service.resume(s) }   // already running

        // History: commands, outputs, exits, checkpoints and restores, verifiable.
        let kinds = Set(try f.service.sessions.events(s).map(\.kind))
        #expect(kinds.isSuperset(of: [.commandStarted, .output, .commandExited, .checkpoint, .restore]))
        #expect(try f.service.sessions.verifyHistory(s).ok)
    }

    @Test("a live checkpoint of a guest that writes all the time restores memory and disk from one instant")
    func liveCheckpointUnderWrites() throws {
        // While the guest is stopped for the checkpoint, its memory file is the truth: the
        // image built from the live stream must equal it page for page.
        let differing = Mutex<[Int]?>(nil)
        let compare: @Sendable (String, SandboxDirectory) -> Void = { point, dir in
            guard point == "capture.paused", let truth = FileManager.default.contents(atPath: dir.memory),
                  let image = FileManager.default.contents(atPath: dir.checkpointScratch + "/guest.mem") else { return }
            let pages = stride(from: 0, to: max(truth.count, image.count), by: 4096).filter {
                truth.count != image.count || truth[$0..<min($0 + 4096, truth.count)] != image[$0..<min($0 + 4096, image.count)]
            }
            differing.withLock { $0 = pages }
        }
        let f = try Fixture(driver: QEMUMicrovmDriver(faultHook: compare))
        let run = try f.service.run(memoryBytes: 256 << 20, diskBytes: 128 << 20)
        let s = run.session
        // 40 MB of random bytes in tmpfs (guest memory), then a writer that appends a sequence
        // number to a file in memory and then to one on the disk, without end.
        let digest = try f.out(s, "head -c 40000000 /dev/urandom > /tmp/random && md5sum /tmp/random")
        _ = try f.service.exec(s, "(i=0; while :; do i=$((i+1)); echo $i >> /tmp/seq; echo $i >> /mnt/disk/seq; done) >/dev/null 2>&1 & echo $! > /tmp/writer")
        usleep(500_000)
        let live = try f.service.checkpoint(s)
        #expect(try f.service.sessions.checkpoint(live.checkpoint).record.meta["memory_capture"]?.stringValue == "live")
        #expect(try f.service.sessions.checkpoint(live.checkpoint).record.meta["live_pages_patched"]?.intValue != nil)
        let pages = try #require(differing.withLock { $0 }, "the hook did not see the stopped guest")
        #expect(pages.isEmpty, "\(pages.count) pages differ, first at offsets \(pages.prefix(8).map { String($0, radix: 16) })")
        _ = try f.service.stop(s, unsaved: .discard)

        let restored = try f.service.restore(live.checkpoint, start: true)
        let dir = SandboxDirectory(path: restored.plan.directory)
        func inGuest(_ command: String) throws -> String { try f.service.driver.exec(dir, command, timeout: 60).stdout }
        _ = try inGuest("kill $(cat /tmp/writer)")
        #expect(try inGuest("md5sum /tmp/random") == digest + "\n")
        // Each file counts 1, 2, 3… with no gap and no torn line, and the disk is at most the
        // one line behind memory that the writer's order allows at any instant.
        let check = "awk 'NR != $1 { print \"gap at line \" NR; bad = 1; exit } END { if (!bad) print NR }'"
        let inMemory = try inGuest("\(check) /tmp/seq").trimmingCharacters(in: .whitespacesAndNewlines)
        let onDisk = try inGuest("\(check) /mnt/disk/seq").trimmingCharacters(in: .whitespacesAndNewlines)
        let m = try #require(Int(inMemory), "memory: \(inMemory)"), d = try #require(Int(onDisk), "disk: \(onDisk)")
        #expect(m > 0 && (m == d || m == d + 1), "memory \(m) lines, disk \(d)")
    }

    /// What a security reviewer would check on a running sandbox, from `/proc`: QEMU under a user
    /// of its own (when the tests run as root), no capabilities, no new privileges, its seccomp
    /// filter on, and no descriptor open outside its directory but devices and the read-only boot files.
    func auditConfinement(_ dir: SandboxDirectory, store: String) throws {
        let process = try #require(dir.process)
        #expect(process.isRunning && dir.runningPID == process.pid)
        let status = try String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)
        func field(_ name: String) -> String? {
            status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
        }
        #expect(field("Seccomp") == "2" && field("NoNewPrivs") == "1")
        #expect(field("CapEff") == "0000000000000000" && field("CapPrm") == "0000000000000000" && field("CapBnd") == "0000000000000000")
        if geteuid() == 0 {
            let uids = (field("Uid") ?? "").split(whereSeparator: \.isWhitespace).compactMap { UInt32($0) }
            #expect(uids.count == 4 && uids.allSatisfy { $0 == process.confinement.uid && $0 >= VMMConfinement.firstID })
        }
        if geteuid() == 0 {
            // Its own mount namespace, whose root shows /usr, devices and /proc — not the store,
            // not the sandbox directory, not /tmp.
            #expect(process.confinement.privateFileSystem)
            let ns = { (pid: String) in try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/mnt") }
            #expect(ns("\(process.pid)") != nil && ns("\(process.pid)") != ns("self"))
            let root = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/root").sorted()
            #expect(Set(root).isSubset(of: ["bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "usr"]), "QEMU's root: \(root)")
            #expect(!FileManager.default.fileExists(atPath: "/proc/\(process.pid)/root" + store))
            #expect(!FileManager.default.fileExists(atPath: "/proc/\(process.pid)/root" + dir.path))
        }
        // Held to its share where the host gives cgroups: in its group, with the limits set.
        let cgroups = ["/sys/fs/cgroup/cgroup.controllers", "/sys/fs/cgroup/memory/cgroup.procs"].contains(where: FileManager.default.fileExists(atPath:))
        if geteuid() == 0 && cgroups { #expect(process.limits != nil) }
        if let limits = process.limits {
            let groups = try String(contentsOfFile: "/proc/\(process.pid)/cgroup", encoding: .utf8)
            let name = "/stasis/" + (try dir.loadSpec()).id
            #expect(groups.split(separator: "\n").filter { $0.hasSuffix(name) }.count == limits.directories.count, "\(groups)")
            #expect(limits.memoryBytes > (try dir.loadSpec()).memoryBytes && limits.tasks == 256)
        }
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd")
        for fd in descriptors {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(process.pid)/fd/\(fd)"),
                  target.hasPrefix("/") else { continue }   // sockets, pipes, eventfds
            // Its own files, devices, and the store's read-only boot files (kernel, initrd).
            let allowed = target.hasPrefix(dir.path + "/") || target.hasPrefix("/dev/") || target.hasPrefix(store + "/cache/blobs/")
            #expect(allowed, "QEMU holds \(target)")
        }
    }

    @Test("exec output arrives whole, byte for byte, also when the host reads slowly")
    func wholeOutput() throws {
        let f = try Fixture()
        let run = try f.service.run(memoryBytes: 256 << 20, diskBytes: 256 << 20)
        func lines(_ n: Int) -> [UInt8] { Array(((1...n).map(String.init).joined(separator: "\n") + "\n").utf8) }
        #expect(try f.out(run.session, "echo first") == "first")
        // Exec of an argv: the words reach the program as given, nothing is parsed again.
        func argv(_ words: String...) throws -> String { try f.service.exec(run.session, ShellCommandLine.quoting(words)).stdout }
        #expect(try argv("sh", "-c", "echo one two") == "one two\n")
        #expect(try argv("echo", "$(uname)", "*") == "$(uname) *\n")
        _ = try argv("touch", "/tmp/a b")
        #expect(try argv("ls", "/tmp/a b") == "/tmp/a b\n" && (try argv("ls", "/tmp/a")).isEmpty)
        // A command over its limit is killed in the guest with what it started (exit 124), and
        // answered while the host still listens: the next command runs at once.
        let late = try f.service.exec(run.session, "sleep 300 & sleep 200", timeout: 2)
        #expect(late.exitCode == 124 && late.stderr.contains("timed out after 2 s"), "\(late)")
        #expect(try f.out(run.session, "ps | grep -c '[s]leep [23]00' || true") == "0")
        #expect(Array(try f.service.exec(run.session, "seq 1 200000", timeout: 300).stdout.utf8) == lines(200_000))

        // A host that connects, asks, and then does not read for a while (a busy machine): the
        // guest's writes must wait for it. With a virtio console QEMU dropped what the socket could
        // not take at once — 64 KiB from the middle of the answer, and the base64 still decoded.
        let dir = SandboxDirectory(path: run.directory)
        // The agent's channel serves one client at a time: this one is closed (end of the `do`)
        // before the next exec connects.
        do {
            let socket = try UnixSocket.connect(dir.agent, until: Date().addingTimeInterval(10))
            try socket.send("EXEC slow-reader \(Data("seq 1 300000".utf8).base64EncodedString())\n")
            sleep(3)
            var line = ""
            repeat { line = try socket.readLine(until: Date().addingTimeInterval(180)) } while !line.hasPrefix("RESULT slow-reader ")
            let result = try GuestAgent.decodeResult(line.split(separator: " ", omittingEmptySubsequences: false), path: dir.agent)
            #expect(result.exitCode == 0 && result.stdout == lines(300_000))
        }
        // The persistent shell and the agent carry on after it.
        #expect(try f.out(run.session, "echo still here") == "still here")
    }

    @Test("faults leave no checkpoint and no sandbox behind")
    func faults() throws {
        // QEMU killed while the guest is paused for a checkpoint.
        let killer: @Sendable (String, SandboxDirectory) -> Void = { point, dir in
            if point == "capture.paused" || point == "resume.incoming", let pid = dir.runningPID { kill(pid, SIGKILL); usleep(100_000) }
        }
        let f = try Fixture(driver: QEMUMicrovmDriver(faultHook: killer))
        let run = try f.service.run(memoryBytes: 128 << 20, diskBytes: 64 << 20)
        #expect(throws: SandboxError.self) { _ = try f.service.checkpoint(run.session) }
        #expect(try f.service.sessions.checkpoints(run.session).isEmpty)

        // A good checkpoint from a healthy driver, then QEMU killed during its restore.
        let g = try Fixture()
        let r2 = try g.service.run(memoryBytes: 128 << 20, diskBytes: 64 << 20)
        let cp = try g.service.checkpoint(r2.session, stop: true)
        let killing = SandboxService(sessions: g.service.sessions, driver: QEMUMicrovmDriver(faultHook: killer), sandboxesDirectory: g.path + "/x")
        #expect(throws: SandboxError.self) { _ = try killing.restore(cp.checkpoint, start: true) }
        #expect(g.service.list().isEmpty)

        // The store fails while a checkpoint is written (disk full): nothing is committed and
        // the source VM keeps running.
        let r4 = try g.service.run(memoryBytes: 128 << 20, diskBytes: 64 << 20)
        FaultInjection.install([FaultInjection.Rule(call: .write, errno: .noSpace, after: 1, pathPrefix: g.path + "/s/tmp")])
        #expect { _ = try g.service.checkpoint(r4.session) } throws: { "\($0)".contains("keeps running") }
        FaultInjection.remove(pathPrefix: g.path + "/s/tmp")
        #expect(try g.out(r4.session, "echo still-running") == "still-running")
        #expect(try g.service.sessions.checkpoints(r4.session).isEmpty)
        // Stopping would lose the commands run since (there is no checkpoint): refused unless
        // the caller says to discard them.
        do throws(SandboxError) {
            _ = try g.service.stop(r4.session)
            Issue.record("a sandbox with unsaved work was stopped")
        } catch {
            guard case .unsavedWork(_, let session, let events) = error, session == r4.session, events > 0 else { Issue.record("got \(error)"); return }
        }
        #expect(g.service.list().contains { $0.session == r4.session && $0.pid != nil })
        _ = try g.service.stop(r4.session, unsaved: .discard)

        // The disk fills up during a restore: no sandbox is left behind. (Without local bases,
        // so that every chunk is written.)
        try? FileManager.default.removeItem(atPath: g.path + "/s/cache/images")
        FaultInjection.install([FaultInjection.Rule(call: .write, errno: .noSpace, after: 3, pathPrefix: g.path + "/full")])
        #expect(throws: SandboxError.self) { _ = try g.service.restore(cp.checkpoint, start: true, directory: g.path + "/full") }
        FaultInjection.remove(pathPrefix: g.path + "/full")
        #expect(!FileManager.default.fileExists(atPath: g.path + "/full"))

        // The sandbox directory already exists.
        let taken = g.path + "/taken"
        try FileManager.default.createDirectory(atPath: taken, withIntermediateDirectories: true)
        #expect { _ = try g.service.restore(cp.checkpoint, start: false, directory: taken) } throws: { "\($0)".contains("already exists") }

        // Device state of another machine (a different memory size): QEMU refuses, nothing runs.
        let h = try Fixture()
        let r3 = try h.service.run(memoryBytes: 160 << 20, diskBytes: 64 << 20)
        let other = try h.service.checkpoint(r3.session, stop: true)
        let otherState = try h.service.sessions.checkpoint(other.checkpoint).record.blobs["state"]!
        let otherBytes = try h.service.sessions.store.blob(otherState)
        var plan = try g.service.plan(cp.checkpoint)
        let stateBlob = try g.service.sessions.store.putBlob(otherBytes)
        plan.blobs = plan.blobs.map { $0.name == "state" ? RestorePlan.Blob(name: "state", blob: stateBlob.id, file: $0.file, writable: false) : $0 }
        #expect(throws: SandboxError.self) { _ = try g.service.executor.execute(plan, start: true) }
        #expect(!FileManager.default.fileExists(atPath: plan.directory))
        #expect(g.service.list().isEmpty)

        // A guest that does not answer in time is stopped and cleaned up.
        let slow = SandboxService(sessions: g.service.sessions, driver: QEMUMicrovmDriver(bootTimeout: 0.2), sandboxesDirectory: g.path + "/y")
        #expect(throws: SandboxError.self) { _ = try slow.run(memoryBytes: 128 << 20, diskBytes: 64 << 20) }
        #expect(slow.list().isEmpty)

        // No QEMU.
        setenv("STASIS_QEMU", "/nonexistent/qemu", 1)
        #expect { _ = try g.service.run(memoryBytes: 128 << 20, diskBytes: 64 << 20) } throws: { "\($0)".contains("apt-get install qemu-system-x86") }
        unsetenv("STASIS_QEMU")

        // No guest image.
        let noGuest = SandboxService(sessions: g.service.sessions, sandboxesDirectory: g.path + "/z", guestCache: g.path + "/empty")
        #expect { _ = try noGuest.run() } throws: { "\($0)".contains("Tools/guest/build.sh") }
    }
}
