import StasisIO

/// Collects chunk writes to consecutive offsets into one large `pwrite`. Materializing an image
/// whose chunks were stored in image order becomes a few MiB-sized writes instead of one per chunk.
struct CoalescingWriter {
    private let fd: FileDescriptor
    private let buffer: UnsafeMutableRawBufferPointer
    private var start: Int64 = 0
    private var length = 0
    private var sinceWriteback = 0

    init(fd: FileDescriptor, capacity: Int = 2 << 20) {
        self.fd = fd
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

    mutating func flush() throws(IOError) {
        guard length > 0 else { return }
        try fd.write(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), at: start)
        // Every 16 MiB, let the disk start on what is written (all of the file: one call, not
        // one per write), so that the final fsync waits for little.
        sinceWriteback += length
        if sinceWriteback >= 16 << 20 {
            fd.startWriteback(at: 0, length: 0)
            sinceWriteback = 0
        }
        length = 0
    }
}
