import Foundation

/// What a VMM driver does. Narrow on purpose: a Firecracker or Cloud Hypervisor driver implements
/// the same five calls over its own API.
public protocol SandboxDriver: Sendable {
    var name: String { get }
    /// Boots a fresh guest from the directory's kernel, initrd, memory and disks.
    func boot(_ spec: SandboxSpec, in dir: SandboxDirectory) throws(SandboxError)
    /// Starts a guest from the directory's checkpoint files (memory, disks, `state.bin`) and
    /// continues it.
    func resume(_ spec: SandboxSpec, in dir: SandboxDirectory) throws(SandboxError)
    /// Runs a command in the guest's persistent shell.
    func exec(_ dir: SandboxDirectory, _ command: String, timeout: TimeInterval) throws(SandboxError) -> ExecResult
    /// Pauses the guest once and copies device state, memory and disks into `scratch` (all from
    /// the same pause), then continues it (or, with `stopAfter`, ends it). Returns the files and
    /// the downtime. On failure the guest is continued, never left paused.
    func capture(_ spec: SandboxSpec, _ dir: SandboxDirectory, into scratch: String, stopAfter: Bool) throws(SandboxError) -> CapturedState
    /// Ends the guest and frees its resources.
    func stop(_ dir: SandboxDirectory) throws(SandboxError)
}

public struct ExecResult: Sendable, Codable {
    public var exitCode: Int32
    public var stdout: String
    public var stderr: String
    public var seconds: Double
}

/// Files of one pause, ready to be captured into the store.
public struct CapturedState: Sendable {
    public var memory: String
    public var disks: [String: String]
    public var state: String
    /// Milliseconds from `stop` to `cont` (or to `quit`).
    public var downtimeMs: Double
    public var bytesCopied: Int64
    /// What the guest did to make its disks consistent before the pause: "sync" (every file
    /// written before the checkpoint is on the disk image), or "none: REASON".
    public var guestSync: String = "none"
    /// How the memory image was taken.
    public var memoryCapture: MemoryCapture = .stopped(reason: nil)
}

/// How a checkpoint's memory image was taken: while the guest ran (only the last pages and the
/// device state in the pause), or with the guest stopped for the whole copy.
public enum MemoryCapture: Sendable, Equatable {
    /// `pagesPatchedAtStop`: pages the accelerator's dirty tracking missed, found and copied
    /// while the guest was stopped (see `MemoryImageReconciler`).
    case live(precopyMs: Double, pageRecords: Int, pagesPatchedAtStop: Int)
    /// `reason` says why a live copy was not used, where one was tried.
    case stopped(reason: String?)

    /// The checkpoint record's `memory_capture` value.
    public var recordValue: String {
        switch self {
        case .live: "live"
        case .stopped(nil): "stopped"
        case .stopped(let reason?): "stopped: \(reason)"
        }
    }
}
