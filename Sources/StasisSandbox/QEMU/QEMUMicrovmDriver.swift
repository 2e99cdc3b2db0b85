import Foundation
import StasisIO
import StasisJSON

/// The QEMU microvm driver: QMP for the machine, the virtio serial agent for commands, QEMU
/// confined (`VMMConfinement`).
/// A checkpoint keeps a migration stream without RAM (`x-ignore-shared`: RAM is the shared
/// memory-backend file) plus images of `guest.mem` and the disks from one instant. A running
/// sandbox is checkpointed live (`+LiveCapture`); a pause stops the guest and copies.
public struct QEMUMicrovmDriver: SandboxDriver {
    public let name = "qemu-microvm"
    public var bootTimeout: TimeInterval = 120
    /// Test seam: called at named points ("capture.paused", "resume.incoming") with the sandbox
    /// directory, so a test can kill QEMU exactly there.
    public var faultHook: (@Sendable (String, SandboxDirectory) -> Void)?
    /// Checkpoints of running sandboxes copy memory while the guest runs (`+LiveCapture`);
    /// false stops the guest for the whole copy (for comparison in benchmarks).
    public var liveCheckpoints: Bool

    public init(bootTimeout: TimeInterval = 120, liveCheckpoints: Bool = true, faultHook: (@Sendable (String, SandboxDirectory) -> Void)? = nil) {
        self.bootTimeout = bootTimeout
        self.liveCheckpoints = liveCheckpoints
        self.faultHook = faultHook
    }

    public func boot(_ spec: SandboxSpec, in dir: SandboxDirectory) throws(SandboxError) {
        let spec = try Self.publishing(spec, in: dir)
        try QEMUCommand.launch(spec, dir, incoming: false)
        do {
            let qmp = try QMPClient(path: dir.qmp)
            try Self.prepareMigration(qmp)
            let agent = try GuestAgent(path: dir.agent, timeout: 10)
            try agent.waitReady(timeout: bootTimeout)
            try agent.setTime(timeout: 10)
            if spec.network != nil { try Self.configureNetwork(agent, "up", sandbox: spec.id) }
        } catch {
            try? stop(dir)
            throw error
        }
    }

    public func resume(_ spec: SandboxSpec, in dir: SandboxDirectory) throws(SandboxError) {
        let spec = try Self.publishing(spec, in: dir)
        try QEMUCommand.launch(spec, dir, incoming: true)
        do {
            let qmp = try QMPClient(path: dir.qmp)
            try Self.prepareMigration(qmp)
            faultHook?("resume.incoming", dir)
            let stream = try Self.openState(dir.state, O_RDONLY)
            defer { close(stream) }
            try qmp.passFile(stream, as: "state")
            try qmp.execute("migrate-incoming", ["uri": "fd:state"])
            try Self.waitMigration(qmp, what: "loading \(dir.state)", status: "query-migrate")
            // The stream remembers that the source was paused: always continue.
            try qmp.execute("cont")
            let agent = try GuestAgent(path: dir.agent, timeout: 10)
            try agent.waitReady(timeout: 30)
            try agent.setTime(timeout: 10)
            // A paused sandbox was checkpointed with its disks frozen.
            try Self.thawGuest(agent)
            // The device state in the checkpoint carries the old MAC: the guest takes the new
            // one and asks this QEMU's DHCP again (its connections did not survive: slirp's
            // host sockets were not in the checkpoint).
            if spec.network != nil { try Self.configureNetwork(agent, "renew \(spec.mac)", sandbox: spec.id) }
        } catch {
            try? stop(dir)
            throw error
        }
    }

    public func exec(_ dir: SandboxDirectory, _ request: ExecRequest,
                     output: (ExecStream, [UInt8]) throws(SandboxError) -> Void) throws(SandboxError) -> ExecStatus {
        let started = Date()
        let text = try request.shellText()
        let agent = try GuestAgent(path: dir.agent, timeout: 5)
        // A stdin pump may outlive the command (blocked reading input that has not ended): the
        // connection must not live on with it, or the sandbox's next exec waits behind it.
        defer { agent.disconnect() }
        if let terminal = request.terminal {
            let r = try agent.runTerminal(request.command, terminal: terminal, stdin: request.stdin, timeout: request.timeout, output: output)
            return ExecStatus(exitCode: r.exitCode, stdoutBytes: r.bytes, stderrBytes: 0, seconds: Date().timeIntervalSince(started), timedOut: r.timedOut)
        }
        let r = try agent.run(text, stdin: request.stdin, timeout: request.timeout, output: output)
        return ExecStatus(exitCode: r.exitCode, stdoutBytes: r.stdoutBytes, stderrBytes: r.stderrBytes,
                          seconds: Date().timeIntervalSince(started), timedOut: r.timedOut)
    }

    public func capture(_ spec: SandboxSpec, _ dir: SandboxDirectory, into scratch: String, stopAfter: Bool,
                        dirtyMemory: DirtyMemory?) throws(SandboxError) -> CapturedState {
        try? FileManager.default.removeItem(atPath: scratch)
        do { try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true) } catch {
            throw .io("create \(scratch)", EIO)
        }
        // Files written before the checkpoint must be on the disk image, not only in the guest's
        // page cache or journal: otherwise the disk alone (diff, file views, forensics) shows
        // them missing (`+Freeze`). Thawed once the guest runs again.
        let quiesce = Self.quiesceGuest(dir)
        let guestSync = quiesce.record
        defer { if quiesce.frozen && dir.runningPID != nil { try? Self.thawGuest(dir) } }
        let qmp = try QMPClient(path: dir.qmp)
        // A sandbox that keeps running is checkpointed live; one that stops after gains nothing
        // from it. Where QEMU's stream is not one the splitter takes apart, a stopped copy. A
        // lazily restored guest is stopped too: a live copy would read (and fetch) all of its
        // memory, where the dirty map names the little that changed.
        var liveRefused: String?
        if !stopAfter && liveCheckpoints && dirtyMemory == nil {
            switch try captureLive(spec, dir, qmp, into: scratch, guestSync: guestSync) {
            case .captured(let state): return state
            case .refused(let reason):
                liveRefused = reason
                for partial in ["guest.mem", "state.bin"] { try? FileManager.default.removeItem(atPath: scratch + "/" + partial) }
            }
        }
        let state = scratch + "/state.bin"
        let stoppedAt = Date()
        try qmp.execute("stop")
        var copied: Int64 = 0
        var memoryRead: Int64 = 0
        var memoryBase: String?
        var disks: [String: String] = [:]
        do throws(SandboxError) {
            faultHook?("capture.paused", dir)
            let stream = try Self.openState(state, O_WRONLY | O_CREAT | O_TRUNC)
            defer { close(stream) }
            try qmp.passFile(stream, as: "state")
            try qmp.execute("migrate", ["uri": "fd:state"])
            try Self.waitMigration(qmp, what: "saving device state", status: "query-migrate")
            // Memory and disks from the same pause: the disk is consistent with memory, not just
            // crash-consistent.
            if let dirtyMemory, let ranges = dirtyMemory.ranges(dir) {
                memoryRead = try Self.copy(dir.memory, ranges: ranges, to: scratch + "/guest.mem")
                memoryBase = dirtyMemory.base
            } else {
                memoryRead = try Self.copy(dir.memory, to: scratch + "/guest.mem")
            }
            copied += memoryRead
            copied += try Self.copyDisks(spec, dir, into: scratch, recording: &disks)
        } catch {
            _ = try? qmp.execute("cont")
            throw error
        }
        if stopAfter {
            _ = try? qmp.execute("quit")
        } else {
            try qmp.execute("cont")
        }
        let downtime = Date().timeIntervalSince(stoppedAt) * 1000
        if stopAfter {
            // Its cgroup goes with it (once it has exited, the group is empty).
            for _ in 0..<250 where dir.runningPID != nil { usleep(20_000) }
            dir.process?.releaseHostResources()
        }
        return CapturedState(memory: scratch + "/guest.mem", disks: disks, state: state, downtimeMs: downtime, bytesCopied: copied,
                             guestSync: guestSync, memoryCapture: memoryBase != nil ? .dirtyMap(bytes: memoryRead) : .stopped(reason: liveRefused),
                             memoryBase: memoryBase, memoryBytesRead: memoryRead)
    }

    /// Asks QEMU to quit, then kills it if it has not after two seconds. Signals go only to the
    /// process recorded at start, while it is still that process (`VMMProcess`).
    public func stop(_ dir: SandboxDirectory) throws(SandboxError) {
        guard dir.runningPID != nil else {
            dir.process?.releaseHostResources()
            return
        }
        if let qmp = try? QMPClient(path: dir.qmp, timeout: 2) { _ = try? qmp.execute("quit", timeout: 5) }
        for _ in 0..<100 where dir.runningPID != nil { usleep(20_000) }
        if dir.runningPID != nil {
            if let process = dir.process { process.signal(SIGKILL) } else if let pid = dir.runningPID { kill(pid, SIGKILL) }
            for _ in 0..<100 where dir.runningPID != nil { usleep(20_000) }
        }
        // Its cgroup, empty once it has exited.
        if dir.runningPID == nil { dir.process?.releaseHostResources() }
    }

    /// The spec with host ports chosen for its published ports (anew at every start: a clone
    /// runs next to its original), saved in the sandbox directory for `sandbox ls`/`inspect`.
    static func publishing(_ spec: SandboxSpec, in dir: SandboxDirectory) throws(SandboxError) -> SandboxSpec {
        guard let network = spec.network, !network.publish.isEmpty else { return spec }
        var chosen = spec
        chosen.network = try network.choosingHostPorts()
        try dir.saveSpec(chosen)
        return chosen
    }

    /// Runs `stasis-net ARGUMENTS` (Tools/guest/rootfs/stasis-net) in the guest: the card up with
    /// its address. By path, in a subshell: a template's shell has the template's PATH. A guest without it (an image from before
    /// networks) or whose card does not come up is an error.
    static func configureNetwork(_ agent: GuestAgent, _ arguments: String, sandbox: String) throws(SandboxError) {
        // Through busybox's sh: a template may have no /bin/sh for the script's #! line.
        let g = "/.stasis/guest/bin"
        let command = "(if [ -x \(g)/stasis-net ]; then exec \(g)/sh \(g)/stasis-net \(arguments); else exec /bin/sh /sbin/stasis-net \(arguments); fi)"
        let r = try agent.exec(command, timeout: 30)
        guard r.exitCode == 0 else {
            let said = String(decoding: r.stderr + r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .guestNotAnswering("sandbox \(sandbox): `stasis-net \(arguments)` exited \(r.exitCode) (\(said.isEmpty ? "no output" : said)); a guest image from before networks has no stasis-net: rebuild it with Tools/guest/build.sh")
        }
    }

    /// Device state only in the stream (RAM is the shared file) and no bandwidth cap.
    static func prepareMigration(_ qmp: QMPClient) throws(SandboxError) {
        try qmp.execute("migrate-set-capabilities", ["capabilities": [["capability": "x-ignore-shared", "state": true]]])
        try qmp.execute("migrate-set-parameters", ["max-bandwidth": .int(Int64(1) << 40)])
    }

    static func waitMigration(_ qmp: QMPClient, what: String, status command: String, timeout: TimeInterval = 60) throws(SandboxError) {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let s = try qmp.execute(command)
            switch s["status"]?.stringValue {
            case "completed": return
            case "failed", "cancelled":
                throw .qmp(command: "migrate", message: "\(what) \(s["status"]!.stringValue!): \(s["error-desc"]?.stringValue ?? "no detail")")
            default: usleep(2_000)
            }
        }
        throw .timeout(what)
    }

    /// Copies every disk of the (stopped) guest into `scratch` as `disk-NAME.raw`, noting each
    /// copy in `disks`; returns the bytes copied. Both checkpoint methods do this in their pause.
    static func copyDisks(_ spec: SandboxSpec, _ dir: SandboxDirectory, into scratch: String,
                          recording disks: inout [String: String]) throws(SandboxError) -> Int64 {
        var copied: Int64 = 0
        for name in spec.disks {
            let target = scratch + "/disk-\(name).raw"
            copied += try copy(dir.disk(name), to: target)
            disks[name] = target
        }
        return copied
    }

    /// Copies only `ranges` of `source` into a new sparse file of its size: every byte of them is
    /// written, zeros too, so that the ranges are exactly the file's allocated ones (what an
    /// incremental capture reads). Returns the bytes copied.
    static func copy(_ source: String, ranges: [Range<Int64>], to target: String) throws(SandboxError) -> Int64 {
        do throws(IOError) {
            let from = try FileDescriptor.open(source, .readOnly)
            defer { from.close() }
            let to = try FileDescriptor.open(target, .createTruncate, permissions: 0o600)
            defer { to.close() }
            try to.truncate(to: try from.size())
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
            defer { buffer.deallocate() }
            var copied: Int64 = 0
            for range in ranges {
                var at = range.lowerBound
                while at < range.upperBound {
                    let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(Int64(buffer.count), range.upperBound - at))])
                    try from.readExactly(into: piece, at: at)
                    try to.write(UnsafeRawBufferPointer(piece), at: at)
                    at += Int64(piece.count)
                    copied += Int64(piece.count)
                }
            }
            return copied
        } catch {
            throw .io("copy the written ranges of \(source)", error.errno.rawValue)
        }
    }

    static func copy(_ source: String, to target: String) throws(SandboxError) -> Int64 {
        do { return try FileSystem.sparseCopy(from: source, to: target) } catch {
            throw .io("copy \(source)", error.errno.rawValue)
        }
    }

    /// The migration stream's file, opened here and handed to QEMU (`getfd`), which may neither
    /// open paths of the host nor start `cat`.
    static func openState(_ path: String, _ flags: Int32) throws(SandboxError) -> Int32 {
        let fd = open(path, flags | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("open \(path)", errno) }
        return fd
    }
}
