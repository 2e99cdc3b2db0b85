import Foundation

/// What the sandbox layer fails with; messages name the sandbox, file or socket and say what to do.
public enum SandboxError: Error, Sendable, CustomStringConvertible {
    case io(String, Int32)
    case timeout(String)
    /// A command that ran longer than its limit; it may still run in the guest.
    case commandTimedOut(command: String, seconds: Double)
    case closed(String)
    /// An answer that arrived damaged or short: the output is incomplete and must not be used.
    case garbled(String)
    case badArgument(String)
    case qmp(command: String, message: String)
    case qemuMissing(String)
    case guestMissing(String)
    case guestNotAnswering(String)
    case qemuExited(sandbox: String, detail: String)
    case sandboxExists(String)
    case sandboxNotFound(String)
    /// The session has no running sandbox but a checkpoint to resume from.
    case paused(session: String, checkpoint: String)
    /// Stopping would lose what the session did after its last checkpoint.
    case unsavedWork(sandbox: String, session: String, events: Int64)
    case inconsistent(String)
    /// The page server of a lazily restored sandbox failed (a chunk it could not read or verify,
    /// or the process itself): `detail` names the chunk and the cause; the VM was stopped.
    case lazyMemory(sandbox: String, detail: String)
    /// `stasis cp` failed in the guest (a missing path, a full disk); the target is unchanged.
    case copyFailed(String)
    /// The store or history refused; `cause` keeps the library's own error (and its kind).
    case store(String, cause: (any Error & Sendable)? = nil)

    public var description: String {
        switch self {
        case .io(let what, let e): return "\(what): \(String(cString: strerror(e)))"
        case .timeout(let what): return "timed out: \(what)"
        case .commandTimedOut(let command, let seconds):
            return "no answer to `\(command)` within \(String(format: "%g", seconds)) s (--timeout) and a grace period: the guest agent may be stuck or from before deadlines; check the sandbox with `stasis exec SESSION -- true`, or pause and resume it"
        case .closed(let path): return "\(path) closed the connection (did QEMU exit? see the sandbox's console.log)"
        case .garbled(let m): return "the guest agent's answer was damaged in transit: \(m); nothing was recorded, run the command again"
        case .badArgument(let m): return m
        case .qmp(let command, let message): return "QEMU refused `\(command)`: \(message)"
        case .qemuMissing(let m): return "QEMU is not available: \(m); install it with `apt-get install qemu-system-x86` (Tools/setup.sh does)"
        case .guestMissing(let m): return "the guest image is missing: \(m); build it with `Tools/guest/build.sh`"
        case .guestNotAnswering(let m): return "the guest does not answer: \(m)"
        case .qemuExited(let sandbox, let detail): return "QEMU of sandbox \(sandbox) exited: \(detail)"
        case .sandboxExists(let dir): return "sandbox directory '\(dir)' already exists: a restore never reuses a directory; choose another or remove it"
        case .sandboxNotFound(let id): return "no running sandbox '\(id)': `stasis sandbox ls` lists them; a paused session continues with `stasis sandbox resume SESSION`"
        case .paused(let session, let checkpoint):
            return "session \(session.prefix(12)) has no running sandbox: it is paused at checkpoint \(checkpoint.prefix(12)); `stasis sandbox resume \(session.prefix(12))` continues it"
        case .unsavedWork(let sandbox, let session, let events):
            return "sandbox \(sandbox) recorded \(events) event(s) in session \(session.prefix(12)) since its last checkpoint, which stopping would lose: `stasis sandbox pause \(session.prefix(12))` keeps them (or stop --checkpoint); stop --discard throws them away"
        case .inconsistent(let m): return "refusing to start: \(m)"
        case .lazyMemory(let sandbox, let detail):
            return "the lazily served memory of sandbox \(sandbox) failed, and its VM was stopped: \(detail); check the store (`stasis verify --deep`), then restore again (`--eager` writes all memory before the VM starts)"
        case .copyFailed(let m): return m
        case .store(let m, _): return m
        }
    }
}
