import Dispatch
import Synchronization
import StasisIO

/// Flushes a file being written to stable storage in the background, every `every` bytes, one
/// flush at a time, so that the final `fsync` finds little left and the flush overlaps the work
/// that produces the bytes.
///
/// Why: on a virtual disk the cost of a flush grows with the bytes written since the last one
/// (the host writes its cache out), whatever was started with write-back hints. Measured here,
/// 340 MiB written over a second of work: one fsync at the end 0.44 s, a background fdatasync
/// every 64 MiB and a final fsync 0.03 s (1.48 s → 0.98 s in all).
///
/// Advisory: a failed background flush is ignored; the caller's final `sync` reports errors.
final class DurabilityPacer: Sendable {
    private let fd: FileDescriptor
    private let every: Int64
    private let queue = DispatchQueue(label: "stasis.durability-pacer")
    private let state = Mutex<(unflushed: Int64, flushing: Bool)>((0, false))

    init(_ fd: FileDescriptor, every: Int64 = 64 << 20) {
        self.fd = fd
        self.every = every
    }

    /// Counts `bytes` written; starts a background flush when enough are unflushed and none runs.
    func wrote(_ bytes: Int) {
        let start: Bool = state.withLock { s in
            s.unflushed += Int64(bytes)
            guard s.unflushed >= every, !s.flushing else { return false }
            s.unflushed = 0
            s.flushing = true
            return true
        }
        guard start else { return }
        let fd = self.fd
        queue.async { [self] in
            try? fd.syncData()
            state.withLock { $0.flushing = false }
        }
    }

    /// Waits for a background flush in flight (before the caller's final sync, or closing).
    func drain() { queue.sync {} }
}
