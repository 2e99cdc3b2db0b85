import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The QEMU process of a sandbox, recorded when it starts (`vmm.json`): its pid, the kernel's
/// start time of that pid, and its confinement. A pid alone is not an identity — after QEMU
/// exits the number may be reused by any process — so Stasis signals a pid only while its start
/// time is still the recorded one.
public struct VMMProcess: Codable, Sendable, Equatable {
    public var pid: Int32
    /// Field 22 of `/proc/PID/stat`: clock ticks after boot at which the process started.
    public var startTime: UInt64
    public var confinement: VMMConfinement
    /// Its cgroup and limits, where the host gives cgroups.
    public var limits: VMMResourceLimits?
    /// Its egress rules, for a sandbox with a network whose policy the kernel enforces.
    public var egress: EgressFirewall?

    /// The record of a process that runs now; nil when it is already gone.
    public static func observe(pid: Int32, confinement: VMMConfinement, limits: VMMResourceLimits?, egress: EgressFirewall? = nil) -> VMMProcess? {
        guard let status = ProcessStatus.read(pid) else { return nil }
        return VMMProcess(pid: pid, startTime: status.startTime, confinement: confinement, limits: limits, egress: egress)
    }

    /// Frees what the host keeps for this QEMU besides the process: its cgroup and its egress
    /// rules. Only once it has exited (the group must be empty; the rules guard it while it runs).
    public func releaseHostResources() {
        limits?.remove()
        egress?.remove()
    }

    /// True while the recorded process runs: same pid, same start time, not a zombie. A zombie
    /// child of ours is reaped here.
    public var isRunning: Bool {
        guard let status = ProcessStatus.read(pid), status.startTime == startTime else { return false }
        if status.state == "Z" {
            var code: Int32 = 0
            _ = waitpid(pid, &code, WNOHANG)
            return false
        }
        return true
    }

    /// Sends `signal` only if the process is still the recorded one.
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        guard isRunning else { return false }
        return kill(pid, signal) == 0
    }
}

/// What `/proc/PID/stat` says about a process.
public struct ProcessStatus: Sendable {
    public var state: Character
    public var startTime: UInt64

    public static func read(_ pid: Int32) -> ProcessStatus? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // After "pid (comm) ": state is field 3, start time field 22. comm may hold spaces and
        // parentheses, hence the last ')'.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        return ProcessStatus(state: state, startTime: start)
    }
}
