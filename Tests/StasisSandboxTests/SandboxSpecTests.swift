import Foundation
import Testing
@testable import StasisSandbox

/// Invariants checked (no VM needed): the sandbox description in Formats/sandbox-config.md decodes;
/// encoding round-trips; a renewed identity changes id, MAC (locally administered, unicast),
/// vsock CID (≥ 3) and machine id; the QEMU command line keeps the memory backend, devices and
/// their order, and a restore adds only `-incoming defer -S`.
@Suite("Sandbox description and QEMU command line")
struct SandboxSpecTests {
    @Test("the documented example decodes and round-trips")
    func example() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let text = try String(contentsOfFile: url.path + "/Formats/sandbox-config.md", encoding: .utf8)
        let start = try #require(text.range(of: "```json\n"))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let spec = try #require(SandboxSpec.decode(Data(text[start.upperBound..<end.lowerBound].utf8)))
        #expect(spec.memoryBytes == 256 << 20 && spec.disks == ["root"] && spec.accelerator == "tcg")
        #expect(SandboxSpec.decode(spec.json) == spec)
    }

    @Test("identity renewal and the command line")
    func identityAndCommandLine() throws {
        var spec = SandboxSpec(id: "a", session: "s", memoryBytes: 256 << 20, vcpus: 1, accelerator: "tcg",
                               kernelCommandLine: "console=ttyS0", mac: "", vsockCID: 0, machineID: "", disks: ["root", "data"],
                               restoredFrom: nil, createdAt: Date())
        spec.renewIdentity()
        let first = spec
        spec.renewIdentity()
        #expect(first.id != spec.id && first.mac != spec.mac && first.machineID != spec.machineID)
        #expect(spec.mac.hasPrefix("02:") && spec.vsockCID >= 3)
        let boot = QEMUCommand.arguments(spec, incoming: false)
        let restore = QEMUCommand.arguments(spec, incoming: true)
        #expect(Array(restore.prefix(boot.count)) == boot)
        #expect(Array(restore.suffix(3)) == ["-incoming", "defer", "-S"])
        // No path of the host: every file is a descriptor handed over, in a fixed order.
        #expect(boot.contains("memory-backend-file,id=mem,size=256M,mem-path=/proc/self/fd/5,share=on"))
        let drives = boot.enumerated().filter { $0.element.hasPrefix("id=d") }.map(\.element)
        #expect(drives.first?.contains("file=/proc/self/fd/9,") == true && drives.last?.contains("file=/proc/self/fd/10,") == true)
        #expect(boot.contains("socket,id=monitor,fd=3,server=on,wait=off") && boot.contains("socket,id=agent,fd=4,server=on,wait=off"))
        #expect(!boot.joined(separator: " ").contains("/tmp"))
    }

    @Test("the agent's device: a serial port for new sandboxes, the console for descriptions without the key")
    func agentPort() throws {
        let fresh = SandboxSpec(id: "a", session: "s", memoryBytes: 256 << 20, vcpus: 1, accelerator: "tcg",
                                kernelCommandLine: "", mac: "", vsockCID: 3, machineID: "", disks: [], restoredFrom: nil, createdAt: Date())
        #expect(QEMUCommand.arguments(fresh, incoming: false).contains("virtserialport,chardev=agent,name=agent"))
        // A description stored before `agentPort` existed: its machine had a console, and its
        // checkpoints' device state names one, so a restore must build the same device.
        var legacyJSON = try #require(try JSONSerialization.jsonObject(with: fresh.json) as? [String: Any])
        legacyJSON.removeValue(forKey: "agentPort")
        let legacy = try #require(SandboxSpec.decode(try JSONSerialization.data(withJSONObject: legacyJSON)))
        #expect(legacy.agentPort == nil && legacy.effectiveAgentPort == .console)
        #expect(QEMUCommand.arguments(legacy, incoming: true).contains("virtconsole,chardev=agent,name=agent"))
        #expect(SandboxSpec.decode(legacy.json) == legacy)
    }

    @Test("an agent answer that lost bytes is an error, never a short output")
    func resultByteCounts() throws {
        func parts(_ line: String) -> [Substring] { line.split(separator: " ", omittingEmptySubsequences: false) }
        let out = Data("hello\n".utf8).base64EncodedString(), err = Data("oops".utf8).base64EncodedString()
        let whole = try GuestAgent.decodeResult(parts("RESULT 7 3 \(out) \(err) 6 4"), path: "agent.sock")
        #expect(whole.exitCode == 3 && whole.stdout == Array("hello\n".utf8) && whole.stderr == Array("oops".utf8))
        let empty = try GuestAgent.decodeResult(parts("RESULT 7 0   0 0"), path: "agent.sock")
        #expect(empty.stdout.isEmpty && empty.stderr.isEmpty)
        // An older agent sends no counts: accepted as it is.
        #expect(try GuestAgent.decodeResult(parts("RESULT 7 0 \(out) "), path: "agent.sock").stdout.count == 6)
        // 64 KiB lost from the middle still decodes as base64: only the count catches it.
        let cut = Data(repeating: 0x41, count: 65536 * 2).base64EncodedString()
        #expect { _ = try GuestAgent.decodeResult(parts("RESULT 7 0 \(cut)  196608 0"), path: "agent.sock") } throws: {
            "\($0)".contains("131072 of 196608 stdout bytes") && "\($0)".contains("agent.sock")
        }
        #expect(throws: SandboxError.self) { _ = try GuestAgent.decodeResult(parts("RESULT 7 0 !!! "), path: "a") }
        #expect(throws: SandboxError.self) { _ = try GuestAgent.decodeResult(parts("RESULT 7 0 \(out) \(err) 6"), path: "a") }
        #expect(throws: SandboxError.self) { _ = try GuestAgent.decodeResult(parts("RESULT 7 x \(out) \(err)"), path: "a") }
    }
}

@Suite("Stopping only the recorded QEMU")
struct VMMProcessTests {
    /// A child that sleeps until killed, standing in for a process that reused QEMU's pid.
    func bystander() throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sleep")
        p.arguments = ["600"]
        try p.run()
        return p
    }

    @Test("a pid whose start time changed is not the sandbox's: nothing is signalled")
    func reusedPID() throws {
        let other = try bystander()
        // SIGKILL: a test runner may leave SIGTERM ignored, and children inherit that.
        defer { kill(other.processIdentifier, SIGKILL); other.waitUntilExit() }
        let dir = SandboxDirectory(path: NSTemporaryDirectory() + "vmm-" + String(UInt32.random(in: 0...UInt32.max), radix: 16))
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir.path) }
        let observed = try #require(VMMProcess.observe(pid: other.processIdentifier, confinement: .forNewProcess(), limits: nil))
        #expect(observed.isRunning)
        // The record of a QEMU that ran under this pid before: another start time.
        var stale = observed
        stale.startTime -= 1
        try dir.saveProcess(stale)
        #expect(dir.runningPID == nil)
        #expect(!stale.signal(SIGKILL))
        try QEMUMicrovmDriver().stop(dir)
        #expect(other.isRunning)
        // A directory from before vmm.json, whose pid file names a process that is not its QEMU.
        try FileManager.default.removeItem(atPath: dir.processRecord)
        try "\(other.processIdentifier)\n".write(toFile: dir.pidFile, atomically: true, encoding: .utf8)
        #expect(dir.runningPID == nil)
        try QEMUMicrovmDriver().stop(dir)
        #expect(other.isRunning)
        // The recorded process itself is found and can be signalled.
        try dir.saveProcess(observed)
        #expect(dir.runningPID == other.processIdentifier)
    }

    @Test("the confinement's command: setpriv to a fresh unprivileged user, no capabilities, QEMU's seccomp filter")
    func confinementCommand() throws {
        let confinement = VMMConfinement(uid: 3_000_000_123, gid: 3_000_000_123, groups: [], seccomp: VMMConfinement.seccompPolicy)
        let (program, arguments) = try confinement.command(qemu: "/usr/bin/qemu-system-x86_64", ["-M", "microvm"])
        #expect(program.hasSuffix("/setpriv"))
        #expect(arguments == ["--reuid=3000000123", "--regid=3000000123", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                              "--no-new-privs", "--", "/usr/bin/qemu-system-x86_64", "-M", "microvm",
                              "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"])
        // As root: the same, inside a mount namespace of its own (unshare, then the view's script).
        let viewed = VMMConfinement(uid: 3_000_000_123, gid: 3_000_000_123, groups: [], seccomp: VMMConfinement.seccompPolicy, privateFileSystem: true)
        let (outer, outerArguments) = try viewed.command(qemu: "/usr/bin/qemu-system-x86_64", ["-M", "microvm"])
        #expect(outer.hasSuffix("/unshare") && outerArguments.prefix(7) == ["--mount", "--uts", "--ipc", "--net", "--propagation", "private", "--"])
        #expect(Array(outerArguments.suffix(arguments.count + 1)) == [program] + arguments)
        #expect(Array(outerArguments[10...11]) == ["stasis-vmm", "0"])   // no cgroups to join
        let unprivileged = VMMConfinement(uid: nil, gid: nil, groups: [], seccomp: VMMConfinement.seccompPolicy)
        #expect(try unprivileged.command(qemu: "/q", []) == ("/q", ["-sandbox", VMMConfinement.seccompPolicy]))
        if geteuid() == 0 {
            let fresh = VMMConfinement.forNewProcess(environment: [:])
            #expect(fresh.uid.map { $0 >= VMMConfinement.firstID } == true && fresh.uid == fresh.gid)
            #expect(VMMConfinement.forNewProcess(environment: ["STASIS_VMM_USER": "shared"]).uid == 65534)
            #expect(VMMConfinement.forNewProcess(environment: ["STASIS_VMM_CONFINEMENT": "seccomp-only"]) ==
                    VMMConfinement(uid: nil, gid: nil, groups: [], seccomp: VMMConfinement.seccompPolicy))
        }
    }
}
