import StasisIO

/// Collects chunk writes to consecutive offsets into one large `pwrite`. Materializing an image
/// whose chunks were stored in image order becomes a few MiB-sized writes instead of one per chunk.
struct CoalescingWriter {
    private let fd: FileDescriptor
    private let pacer: DurabilityPacer?
    private let buffer: UnsafeMutableRawBufferPointer
    private var start: Int64 = 0
    private var length = 0
    private var sinceWriteback = 0
    /// The span written since the last writeback was started.
    private var dirty: (low: Int64, high: Int64) = (.max, .min)

    init(fd: FileDescriptor, pacer: DurabilityPacer? = nil, capacity: Int = 2 << 20) {
        self.fd = fd
        self.pacer = pacer
        buffer = .allocate(byteCount: capacity, alignment: 4096)
    }

    func deallocate() { buffer.deallocate() }

    mutating func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(IOError) {
        if length > 0 && (offset != start + Int64(length) || length + bytes.count > buffer.count) {
            try flush()
        }
        if bytes.count > buffer.count {
            try fd.write(bytes, at: offset)
            return
        }
        if length == 0 { start = offset }
        UnsafeMutableRawBufferPointer(rebasing: buffer[length..<length + bytes.count]).copyMemory(from: bytes)
        length += bytes.count
    }

    /// Measured on 1 GiB of real data: 2–4 MiB spans start the disk early enough that the
    /// final fsync waits only for the journal (16 MiB of whole-file calls: 5% slower overall).
    static let writebackEvery = 4 << 20

    mutating func flush() throws(IOError) {
        guard length > 0 else { return }
        try fd.write(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), at: start)
        pacer?.wrote(length)
        // Every few MiB, let the disk start on the span this worker wrote (one call, not one
        // per write), so that the final fsync waits for little.
        sinceWriteback += length
        dirty = (min(dirty.low, start), max(dirty.high, start + Int64(length)))
        if sinceWriteback >= Self.writebackEvery {
            fd.startWriteback(at: dirty.low, length: dirty.high - dirty.low)
            sinceWriteback = 0
            dirty = (.max, .min)
        }
        length = 0
    }
}
