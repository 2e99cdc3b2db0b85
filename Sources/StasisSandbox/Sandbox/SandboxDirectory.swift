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

    /// The QEMU process id, if it is running.
    public var runningPID: Int32? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, kill(pid, 0) == 0 else { return nil }
        return pid
    }
}
