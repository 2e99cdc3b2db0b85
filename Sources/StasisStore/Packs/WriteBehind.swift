import Dispatch
import Synchronization
import StasisIO

/// Writes full pack buffers on a background queue, so that the capture workers only copy bytes
/// and never wait for `pwrite` or write-back submission. At most `depth` buffers are in flight
/// (bounded memory); buffers are recycled, so steady state allocates nothing. The first write
/// error is kept and thrown by the next `submit` or by `drain`.
final class WriteBehind: @unchecked Sendable {
    private let queue = DispatchQueue(label: "stasis.pack-write-behind")
    private let slots: DispatchSemaphore
    private let failure = Mutex<IOError?>(nil)
    private let pool = Mutex<[[UInt8]]>([])
    private let capacity: Int

    init(depth: Int = 2, bufferCapacity: Int) {
        slots = DispatchSemaphore(value: depth)
        capacity = bufferCapacity
    }

    /// An empty buffer with capacity, recycled when one is free.
    func emptyBuffer() -> [UInt8] {
        if var b = pool.withLock({ $0.popLast() }) { b.removeAll(keepingCapacity: true); return b }
        var b: [UInt8] = []
        b.reserveCapacity(capacity)
        return b
    }

    /// Queues `bytes` to be written at `offset` of `fd`; blocks while `depth` writes are pending.
    func submit(_ bytes: consuming [UInt8], to fd: FileDescriptor, at offset: Int64) throws(IOError) {
        if let error = failure.withLock({ $0 }) { throw error }
        slots.wait()
        nonisolated(unsafe) let owned = bytes
        queue.async {
            defer { self.slots.signal() }
            guard self.failure.withLock({ $0 == nil }) else { return }
            do {
                try owned.withRawBytes { (b) throws(IOError) in try fd.write(b, at: offset) }
                // Let the disk start now, so the fsync at the end has little left to wait for.
                fd.startWriteback(at: offset, length: Int64(owned.count))
                self.pool.withLock { $0.append(owned) }
            } catch {
                self.failure.withLock { if $0 == nil { $0 = error as? IOError } }
            }
        }
    }

    /// Once the writes queued so far are done, flushes `fd` to stable storage in the background
    /// (a sealed pack), so that flushing overlaps the rest of the capture (see `DurabilityPacer`
    /// for why this matters). Advisory: the final `sync` in `PackWriter.finish` reports errors.
    func flushWhenWritten(_ fd: FileDescriptor) {
        queue.async { self.flushes.async { try? fd.syncData() } }
    }
    private let flushes = DispatchQueue(label: "stasis.pack-flush")


    /// Waits for every queued write and background flush; throws the first write error.
    func drain() throws(IOError) {
        queue.sync {}
        flushes.sync {}
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
