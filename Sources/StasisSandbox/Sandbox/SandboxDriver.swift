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
    /// Runs a command in the guest's persistent shell, handing each chunk of its stdout and
    /// stderr to `output` as it arrives (in the order the guest sent them). Every byte the guest
    /// reports is delivered, or the call throws.
    func exec(_ dir: SandboxDirectory, _ request: ExecRequest,
              output: (ExecStream, [UInt8]) throws(SandboxError) -> Void) throws(SandboxError) -> ExecStatus
    /// Pauses the guest once and copies device state, memory and disks into `scratch` (all from
    /// the same pause), then continues it (or, with `stopAfter`, ends it). Returns the files and
    /// the downtime. On failure the guest is continued, never left paused. With `dirtyMemory`
    /// (a lazily restored sandbox), only the memory the guest wrote since its restore is copied,
    /// when the dirty map can be trusted (`CapturedState.memoryBase`).
    func capture(_ spec: SandboxSpec, _ dir: SandboxDirectory, into scratch: String, stopAfter: Bool,
                 dirtyMemory: DirtyMemory?) throws(SandboxError) -> CapturedState
    /// Ends the guest and frees its resources.
    func stop(_ dir: SandboxDirectory) throws(SandboxError)
}

/// A command's whole output (lossy UTF-8 for display and JSON), for callers that want it at once.
public struct ExecResult: Sendable, Codable {
    public var exitCode: Int32
    public var stdout: String
    public var stderr: String
    public var seconds: Double

    public init(exitCode: Int32, stdout: String, stderr: String, seconds: Double) {
        self.exitCode = exitCode; self.stdout = stdout; self.stderr = stderr; self.seconds = seconds
    }
}

extension SandboxDriver {
    /// A capture that copies all of memory.
    public func capture(_ spec: SandboxSpec, _ dir: SandboxDirectory, into scratch: String, stopAfter: Bool) throws(SandboxError) -> CapturedState {
        try capture(spec, dir, into: scratch, stopAfter: stopAfter, dirtyMemory: nil)
    }

    /// Runs shell text and collects its output.
    public func exec(_ dir: SandboxDirectory, _ command: String, timeout: TimeInterval) throws(SandboxError) -> ExecResult {
        var out: [UInt8] = []
        var err: [UInt8] = []
        let status = try exec(dir, ExecRequest(command: command, timeout: timeout)) { (stream, chunk) throws(SandboxError) in
            if stream == .stdout { out += chunk } else { err += chunk }
        }
        return ExecResult(exitCode: status.exitCode, stdout: String(decoding: out, as: UTF8.self),
                          stderr: String(decoding: err, as: UTF8.self), seconds: status.seconds)
    }
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
    /// Set when `memory` holds only the ranges the guest wrote since its restore (allocated in
    /// a sparse file of the image's size): every other byte is this image's.
    public var memoryBase: String?
    /// Bytes of guest memory read for the capture.
    public var memoryBytesRead: Int64 = 0
}

/// What a lazily restored guest wrote since its restore (Formats/lazy-restore.md): the image
/// its memory was served from, and how to learn which ranges changed since.
public struct DirtyMemory: Sendable {
    /// The memory image served at the restore.
    public var base: String
    /// Called while the guest is stopped: makes the dirty map complete (forces the write-back of
    /// dirty pages) and returns the byte ranges written since the restore, sorted and disjoint;
    /// nil when the map cannot be trusted (then all of memory is copied).
    public var ranges: @Sendable (SandboxDirectory) -> [Range<Int64>]?

    public init(base: String, ranges: @escaping @Sendable (SandboxDirectory) -> [Range<Int64>]?) {
        self.base = base
        self.ranges = ranges
    }
}

/// How a checkpoint's memory image was taken: while the guest ran (only the last pages and the
/// device state in the pause), or with the guest stopped for the whole copy.
public enum MemoryCapture: Sendable, Equatable {
    /// `pagesPatchedAtStop`: pages the accelerator's dirty tracking missed, found and copied
    /// while the guest was stopped (see `MemoryImageReconciler`).
    case live(precopyMs: Double, pageRecords: Int, pagesPatchedAtStop: Int)
    /// `reason` says why a live copy was not used, where one was tried.
    case stopped(reason: String?)
    /// Stopped, and only the ranges the guest wrote since its lazy restore were copied
    /// (`bytes` of them), against the image it was restored from.
    case dirtyMap(bytes: Int64)

    /// The checkpoint record's `memory_capture` value.
    public var recordValue: String {
        switch self {
        case .live: "live"
        case .stopped(nil): "stopped"
        case .stopped(let reason?): "stopped: \(reason)"
        case .dirtyMap: "stopped, dirty map"
        }
    }
}
