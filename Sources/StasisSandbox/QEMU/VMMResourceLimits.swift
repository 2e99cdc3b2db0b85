import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Memory, CPU and process limits for one sandbox's QEMU, through cgroups where the host allows
/// them (root; cgroup v2 with the memory, cpu and pids controllers, or the v1 controllers of the
/// same names). A guest that makes QEMU leak, spin or fork — or a QEMU under attack — is held to
/// its share of the host. Each QEMU gets a group `stasis/<sandbox id>` of its own; QEMU joins
/// it before it starts (`VMMFileSystemView`), and `remove()` deletes it once QEMU is gone.
public struct VMMResourceLimits: Codable, Sendable, Equatable {
    /// Guest RAM plus QEMU's own needs (its code, device emulation, TCG's translation cache).
    public var memoryBytes: Int64
    /// CPU time per period, in CPUs: the vCPUs plus one for QEMU's I/O and main threads.
    public var cpus: Int
    /// Tasks (processes and threads: `aio=threads` starts up to 64 workers).
    public var tasks: Int
    /// The group's directories, one per hierarchy (one under v2), and their `cgroup.procs` files.
    public var directories: [String]

    static let root = "/sys/fs/cgroup"

    static func limits(for spec: SandboxSpec) -> VMMResourceLimits {
        VMMResourceLimits(memoryBytes: spec.memoryBytes + 256 << 20 + spec.memoryBytes / 8, cpus: spec.vcpus + 1, tasks: 256, directories: [])
    }

    /// Creates the group with its limits; nil where the host gives no cgroups to use (not root,
    /// no controllers, a read-only hierarchy). Never half-made: a failure removes what it made.
    static func create(for spec: SandboxSpec) -> VMMResourceLimits? {
        guard geteuid() == 0 else { return nil }
        sweep()
        var limits = limits(for: spec)
        let name = "stasis/" + spec.id
        let period = 100_000
        var writes: [(String, String)] = []
        if FileManager.default.fileExists(atPath: root + "/cgroup.controllers") {
            // v2: the parent hands the controllers down to its children.
            let parent = root + "/stasis", group = root + "/" + name
            guard mkdir(parent, 0o755) == 0 || errno == EEXIST,
                  write("+memory +cpu +pids", to: root + "/cgroup.subtree_control"),
                  write("+memory +cpu +pids", to: parent + "/cgroup.subtree_control"),
                  mkdir(group, 0o755) == 0 else { return nil }
            limits.directories = [group]
            writes = [(group + "/memory.max", "\(limits.memoryBytes)"), (group + "/memory.swap.max", "0"),
                      (group + "/cpu.max", "\(limits.cpus * period) \(period)"), (group + "/pids.max", "\(limits.tasks)")]
        } else {
            for controller in ["memory", "cpu", "pids"] {
                let parent = root + "/" + controller + "/stasis", group = root + "/" + controller + "/" + name
                guard FileManager.default.fileExists(atPath: root + "/" + controller + "/cgroup.procs"),
                      mkdir(parent, 0o755) == 0 || errno == EEXIST, mkdir(group, 0o755) == 0 else {
                    limits.remove()
                    return nil
                }
                limits.directories.append(group)
            }
            let (memory, cpu, pids) = (limits.directories[0], limits.directories[1], limits.directories[2])
            writes = [(memory + "/memory.limit_in_bytes", "\(limits.memoryBytes)"),
                      (cpu + "/cpu.cfs_period_us", "\(period)"), (cpu + "/cpu.cfs_quota_us", "\(limits.cpus * period)"),
                      (pids + "/pids.max", "\(limits.tasks)")]
        }
        for (file, value) in writes where !write(value, to: file) {
            limits.remove()
            return nil
        }
        return limits
    }

    /// The files a process writes its pid to, to join every hierarchy of the group.
    public var joinFiles: [String] { directories.map { $0 + "/cgroup.procs" } }

    /// Deletes the group (possible once QEMU has exited: an empty group). A QEMU that is still
    /// tearing down its memory keeps its group busy for a moment: retried for up to two seconds.
    public func remove() {
        for directory in directories.reversed() {
            for _ in 0..<100 where rmdir(directory) != 0 && errno == EBUSY { usleep(20_000) }
        }
    }

    /// Removes the groups of QEMUs that are gone without a `stop` (killed, crashed, paused and
    /// deleted): a group holding a process cannot be removed, and one made in the last minute
    /// may belong to a QEMU that is about to join it.
    static func sweep(now: Date = Date()) {
        guard geteuid() == 0 else { return }
        let parents = FileManager.default.fileExists(atPath: root + "/cgroup.controllers")
            ? [root + "/stasis"] : ["memory", "cpu", "pids"].map { root + "/" + $0 + "/stasis" }
        for parent in parents {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where name.count == 16 {
                let group = parent + "/" + name
                var info = stat()
                guard stat(group, &info) == 0, info.st_mode & S_IFMT == S_IFDIR,
                      now.timeIntervalSince1970 - Double(info.st_ctim.tv_sec) > 60 else { continue }
                rmdir(group)
            }
        }
    }

    private static func write(_ value: String, to file: String) -> Bool {
        let fd = open(file, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }
}
