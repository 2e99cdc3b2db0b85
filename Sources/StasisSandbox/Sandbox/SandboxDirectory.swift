import Foundation

/// The files of one sandbox. Every writable file is the sandbox's own: its memory, its disks, its
/// sockets, its logs. Nothing in it is shared with another sandbox or with the store.
public struct SandboxDirectory: Sendable {
    public let path: String
    public init(path: String) { self.path = path }

    public var spec: String { path + "/sandbox.json" }
    public var memory: String { path + "/guest.mem" }
    public func disk(_ name: String) -> String { path + "/disk-\(name).raw" }
    public var state: String { path + "/state.bin" }
    public var qmp: String { path + "/qmp.sock" }
    public var agent: String { path + "/agent.sock" }
    public var console: String { path + "/console.log" }
    public var pidFile: String { path + "/qemu.pid" }
    /// The QEMU process's identity and confinement (`VMMProcess`).
    public var processRecord: String { path + "/vmm.json" }
    public var kernel: String { path + "/vmlinux" }
    public var initrd: String { path + "/initrd.img" }
    /// Files a checkpoint captures from, copied while the guest is paused.
    public var checkpointScratch: String { path + "/.checkpoint" }

    public func loadSpec() throws(SandboxError) -> SandboxSpec {
        guard let data = FileManager.default.contents(atPath: spec), let s = SandboxSpec.decode(data) else {
            throw .sandboxNotFound(path)
        }
        return s
    }

    public func saveSpec(_ s: SandboxSpec) throws(SandboxError) {
        guard FileManager.default.createFile(atPath: spec, contents: s.json) else { throw .io("write \(spec)", EIO) }
    }

    /// The QEMU process as recorded when it started, if it was recorded.
    public var process: VMMProcess? {
        guard let data = FileManager.default.contents(atPath: processRecord) else { return nil }
        return try? JSONDecoder().decode(VMMProcess.self, from: data)
    }

    func saveProcess(_ process: VMMProcess) throws(SandboxError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? encoder.encode(process),
              FileManager.default.createFile(atPath: processRecord, contents: data, attributes: [.posixPermissions: 0o600]),
              FileManager.default.createFile(atPath: pidFile, contents: Data("\(process.pid)\n".utf8), attributes: [.posixPermissions: 0o600])
        else { throw .io("write \(processRecord)", EIO) }
    }

    /// The QEMU process id while that process runs. A sandbox started before `vmm.json` existed
    /// (a pid file only) counts as running only if the pid's command line names this directory,
    /// so a reused pid is never taken for its QEMU.
    public var runningPID: Int32? {
        if let process { return process.isRunning ? process.pid : nil }
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, kill(pid, 0) == 0,
              let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              String(decoding: commandLine, as: UTF8.self).contains(path + "/") else { return nil }
        return pid
    }
}
