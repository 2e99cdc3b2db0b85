import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The QEMU microvm command line of a sandbox (the one measured in
/// ../shared/notes/qemu-microvm.md). A restore uses the same line plus `-incoming defer -S`: same
/// memory backend id and size, same devices in the same order, same kernel and initrd.
///
/// QEMU opens no path of the host. Stasis opens every file and creates both sockets, then hands
/// them over as descriptors 3, 4, 5… (`HandedFiles`); QEMU reaches a file as `/proc/self/fd/N`,
/// which needs no access to the directories above it, and the sockets as already-listening
/// descriptors (`fd=N`).
enum QEMUCommand {
    static func binary() throws(SandboxError) -> String {
        if let forced = ProcessInfo.processInfo.environment["STASIS_QEMU"] {
            guard FileManager.default.isExecutableFile(atPath: forced) else { throw .qemuMissing("STASIS_QEMU=\(forced) is not an executable") }
            return forced
        }
        for path in ["/usr/bin/qemu-system-x86_64", "/usr/local/bin/qemu-system-x86_64"] where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw .qemuMissing("no qemu-system-x86_64 in /usr/bin or /usr/local/bin")
    }

    /// The descriptor numbers QEMU finds its files and sockets at, in `Spawn`'s order.
    struct HandedFiles {
        static let monitor: Int32 = 3
        static let agent: Int32 = 4
        static let memory: Int32 = 5
        static let kernel: Int32 = 6
        static let initrd: Int32 = 7
        static let console: Int32 = 8
        static func disk(_ index: Int) -> Int32 { 9 + Int32(index) }

        static func path(_ fd: Int32) -> String { "/proc/self/fd/\(fd)" }
    }

    /// `slirpRestricted`: slirp itself refuses the guest's outbound connections (`networkArguments`).
    static func arguments(_ spec: SandboxSpec, incoming: Bool, accelerator: String? = nil, slirpRestricted: Bool = false) -> [String] {
        let mem = "\(spec.memoryBytes / (1 << 20))M"
        let accel = accelerator ?? spec.accelerator
        var args = [
            "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=on,pcie=off,memory-backend=mem",
            "-accel", accel, "-cpu", accel == "kvm" ? "host,-arch-capabilities" : "max",
            "-m", mem, "-smp", "\(spec.vcpus)", "-nodefaults", "-no-user-config", "-display", "none",
            "-object", "memory-backend-file,id=mem,size=\(mem),mem-path=\(HandedFiles.path(HandedFiles.memory)),share=on",
            "-kernel", HandedFiles.path(HandedFiles.kernel), "-initrd", HandedFiles.path(HandedFiles.initrd),
            "-append", spec.kernelCommandLine,
            "-serial", "file:\(HandedFiles.path(HandedFiles.console))",
            "-chardev", "socket,id=monitor,fd=\(HandedFiles.monitor),server=on,wait=off",
            "-mon", "chardev=monitor,mode=control",
        ]
        for (i, _) in spec.disks.enumerated() {
            args += ["-drive", "id=d\(i),file=\(HandedFiles.path(HandedFiles.disk(i))),format=raw,if=none,cache=writeback,aio=threads",
                     "-device", "virtio-blk-device,drive=d\(i)"]
        }
        args += [
            "-chardev", "socket,id=agent,fd=\(HandedFiles.agent),server=on,wait=off",
            // QEMU keeps port 0 for a console: a serial port needs a second one. The console line
            // stays exactly as it was, so that older checkpoints' device state still loads.
            "-device", spec.effectiveAgentPort == .console ? "virtio-serial-device,max_ports=1" : "virtio-serial-device,max_ports=2",
            "-device", "\(spec.effectiveAgentPort.rawValue),chardev=agent,name=agent",
            "-no-reboot",
        ]
        // After every older device, so that specs without a network keep their device order.
        if let network = spec.network { args += networkArguments(network, mac: spec.mac, restricted: slirpRestricted) }
        if incoming { args += ["-incoming", "defer", "-S"] }
        return args
    }

    /// A virtio-net card on QEMU's user-mode network (slirp: the guest is 10.0.2.15, the host
    /// 10.0.2.2). slirp opens a host socket for each of the guest's connections, and the kernel
    /// decides: in QEMU's own empty network namespace nothing is reachable (connect fails at
    /// once, and the guest sees the failure at once); in the host's, `EgressFirewall` rejects
    /// what is not allowed (a reset). `restricted` (slirp's `restrict=on`) is the fallback for
    /// published ports without those rules: slirp drops the guest's outbound connections itself
    /// (silently: the guest's connect times out). Published ports listen on the host's loopback
    /// only. No IPv6: the policy is written for IPv4.
    static func networkArguments(_ network: NetworkPolicy, mac: String, restricted: Bool = false) -> [String] {
        var netdev = "user,id=net0,ipv6=off,restrict=\(restricted ? "on" : "off")"
        for p in network.publish { netdev += ",hostfwd=tcp:127.0.0.1:\(p.hostPort)-:\(p.guestPort)" }
        return ["-netdev", netdev, "-device", "virtio-net-device,netdev=net0,mac=\(mac)"]
    }

    /// Whether QEMU needs the host's network namespace: its slirp opens host sockets only to
    /// reach allowed destinations and to listen on published ports.
    static func needsHostNetwork(_ spec: SandboxSpec) -> Bool {
        guard let network = spec.network else { return false }
        return !network.allow.isEmpty || !network.publish.isEmpty
    }

    /// The egress rules a sandbox needs before its QEMU starts, or nil where none are needed (no
    /// host network). An allow list that cannot be enforced is refused, never left open.
    static func installEgressRules(_ spec: SandboxSpec, _ confinement: VMMConfinement) throws(SandboxError) -> EgressFirewall? {
        guard let network = spec.network, needsHostNetwork(spec) else { return nil }
        if let reason = EgressFirewall.unavailableReason(for: confinement) {
            guard network.allow.isEmpty else {
                throw .badArgument("--allow cannot be enforced on this host: \(reason); the sandbox was not started (without --allow it gets a network that reaches nothing)")
            }
            // Published ports only: slirp's restrict=on keeps every outbound connection in
            // (`launch`).
            return nil
        }
        return try EgressFirewall.install(sandbox: spec.id, uid: confinement.uid!, policy: network)
    }

    /// Starts QEMU confined and returns once its monitor answers. Errors before that are QEMU's
    /// own, from its log.
    static func launch(_ spec: SandboxSpec, _ dir: SandboxDirectory, incoming: Bool, accelerator: String? = nil,
                       readyWithin timeout: TimeInterval = 120) throws(SandboxError) {
        let confinement = VMMConfinement.forNewProcess()
        let logPath = dir.path + "/qemu.log"
        let limits = confinement.privateFileSystem ? VMMResourceLimits.create(for: spec) : nil
        // The cgroup and the egress rules live as long as the QEMU they were made for: a launch
        // that fails removes them.
        var launched = false
        var egress: EgressFirewall?
        defer { if !launched { limits?.remove(); egress?.remove() } }
        egress = try installEgressRules(spec, confinement)
        let restricted = needsHostNetwork(spec) && egress == nil
        let command = try confinement.command(qemu: try binary(), arguments(spec, incoming: incoming, accelerator: accelerator, slirpRestricted: restricted),
                                              joining: limits?.joinFiles ?? [], hostNetwork: needsHostNetwork(spec))
        let files = try openFiles(spec, dir, confinement: confinement)
        let started = Result { () throws(SandboxError) in try Spawn.start(command.program, command.arguments, log: logPath, descriptors: files) }
        // Our copies go at once (exactly once: a second close could hit a number another thread
        // has reused). Without our copy of the listening sockets, a client of a QEMU that exited
        // sees the connection close instead of waiting in a backlog nobody serves.
        for fd in files { close(fd) }
        let pid = try started.get()
        guard let process = VMMProcess.observe(pid: pid, confinement: confinement, limits: limits, egress: egress) else {
            _ = Spawn.exitStatus(pid)
            throw .qemuExited(sandbox: spec.id, detail: log(logPath) ?? "it exited at once")
        }
        do {
            try dir.saveProcess(process)
            _ = try QMPClient(path: dir.qmp, timeout: timeout)
        } catch {
            // A QEMU that refused its arguments closes the monitor as it exits: its log says why.
            if let status = Spawn.exitStatus(pid, within: 2) {
                throw .qemuExited(sandbox: spec.id, detail: log(logPath) ?? "exit status \(status)")
            }
            process.signal(SIGKILL)
            _ = Spawn.exitStatus(pid, within: 10)
            throw error
        }
        launched = true
    }

    /// Opens, in `HandedFiles` order, what QEMU needs: both sockets (created here, 0600), the
    /// memory file (created empty if new), kernel, initrd, console log and disks. The files QEMU
    /// writes are handed over to its user.
    private static func openFiles(_ spec: SandboxSpec, _ dir: SandboxDirectory, confinement: VMMConfinement) throws(SandboxError) -> [Int32] {
        var files: [Int32] = []
        do throws(SandboxError) {
            files.append(try UnixSocket.listen(at: dir.qmp))
            files.append(try UnixSocket.listen(at: dir.agent))
            files.append(try open(dir.memory, O_RDWR | O_CREAT, handOver: confinement))
            files.append(try open(dir.kernel, O_RDONLY))
            files.append(try open(dir.initrd, O_RDONLY))
            files.append(try open(dir.console, O_WRONLY | O_CREAT | O_APPEND, handOver: confinement))
            for name in spec.disks { files.append(try open(dir.disk(name), O_RDWR, handOver: confinement)) }
            return files
        } catch {
            for fd in files { close(fd) }
            throw error
        }
    }

    private static func open(_ path: String, _ flags: Int32, handOver confinement: VMMConfinement? = nil) throws(SandboxError) -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("open \(path) for QEMU", errno) }
        if let confinement {
            do { try confinement.handOver(path) } catch { close(fd); throw error }
        }
        return fd
    }

    private static func log(_ path: String) -> String? {
        let text = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
