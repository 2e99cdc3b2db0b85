import Foundation

/// The QEMU microvm command line of a sandbox (the one measured in
/// ../shared/notes/qemu-microvm.md). A restore uses the same line plus `-incoming defer -S`: same
/// memory backend id and size, same devices in the same order, same kernel and initrd.
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

    static func arguments(_ spec: SandboxSpec, _ dir: SandboxDirectory, incoming: Bool, accelerator: String? = nil) -> [String] {
        let mem = "\(spec.memoryBytes / (1 << 20))M"
        let accel = accelerator ?? spec.accelerator
        var args = [
            "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=on,pcie=off,memory-backend=mem",
            "-accel", accel, "-cpu", accel == "kvm" ? "host,-arch-capabilities" : "max",
            "-m", mem, "-smp", "\(spec.vcpus)", "-nodefaults", "-no-user-config", "-display", "none",
            "-object", "memory-backend-file,id=mem,size=\(mem),mem-path=\(dir.memory),share=on",
            "-kernel", dir.kernel, "-initrd", dir.initrd, "-append", spec.kernelCommandLine,
            "-serial", "file:\(dir.console)",
            "-qmp", "unix:\(dir.qmp),server=on,wait=off",
        ]
        for (i, name) in spec.disks.enumerated() {
            args += ["-drive", "id=d\(i),file=\(dir.disk(name)),format=raw,if=none,cache=writeback,aio=threads",
                     "-device", "virtio-blk-device,drive=d\(i)"]
        }
        args += [
            "-chardev", "socket,id=agent,path=\(dir.agent),server=on,wait=off",
            // QEMU keeps port 0 for a console: a serial port needs a second one. The console line
            // stays exactly as it was, so that older checkpoints' device state still loads.
            "-device", spec.effectiveAgentPort == .console ? "virtio-serial-device,max_ports=1" : "virtio-serial-device,max_ports=2",
            "-device", "\(spec.effectiveAgentPort.rawValue),chardev=agent,name=agent",
            "-no-reboot", "-daemonize", "-pidfile", dir.pidFile,
        ]
        if incoming { args += ["-incoming", "defer", "-S"] }
        return args
    }

    /// Starts QEMU; it daemonizes once the machine is set up. Errors before that are QEMU's own.
    static func launch(_ spec: SandboxSpec, _ dir: SandboxDirectory, incoming: Bool, accelerator: String? = nil) throws(SandboxError) {
        // QEMU's own messages go to a log file in the sandbox directory.
        let logPath = dir.path + "/qemu.log"
        let status = try Spawn.run(try binary(), arguments(spec, dir, incoming: incoming, accelerator: accelerator), log: logPath)
        guard status == 0 else {
            let message = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            throw .qemuExited(sandbox: spec.id, detail: message.isEmpty ? "exit status \(status)" : message)
        }
    }
}
