#if canImport(Glibc)
import Glibc
#endif

/// Big-endian reads from a migration stream as it arrives on a descriptor (the read end of the
/// pipe QEMU writes to), through one buffer so that a page costs no system call of its own.
struct MigrationStreamReader {
    private let descriptor: Int32
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    /// Bytes consumed so far: the offset errors name.
    private(set) var offset: Int64 = 0

    init(descriptor: Int32, bufferSize: Int = 1 << 20) {
        self.descriptor = descriptor
        buffer = [UInt8](repeating: 0, count: bufferSize)
    }

    /// Makes at least `count` bytes available, or reports the end of the stream.
    private mutating func require(_ count: Int, _ what: String) throws(MigrationStreamError) {
        while end - start < count {
            if start > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: end - start)
                }
                end -= start
                start = 0
            }
            if try fill() == 0 { throw .truncated(offset: offset + Int64(end - start), reading: what) }
        }
    }

    /// One read into the free end of the buffer; 0 at end of file.
    private mutating func fill() throws(MigrationStreamError) -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { raw in
                Glibc.read(descriptor, raw.baseAddress! + end, raw.count - end)
            }
            if n >= 0 { end += n; return n }
            if errno != EINTR { throw .io("read the migration stream", errno: errno) }
        }
    }

    mutating func peek(_ what: String) throws(MigrationStreamError) -> UInt8 {
        try require(1, what)
        return buffer[start]
    }

    mutating func byte(_ what: String) throws(MigrationStreamError) -> UInt8 {
        try require(1, what)
        defer { consume(1) }
        return buffer[start]
    }

    mutating func be32(_ what: String) throws(MigrationStreamError) -> UInt32 {
        try require(4, what)
        defer { consume(4) }
        return (start..<start + 4).reduce(0) { $0 << 8 | UInt32(buffer[$1]) }
    }

    mutating func be64(_ what: String) throws(MigrationStreamError) -> UInt64 {
        try require(8, what)
        defer { consume(8) }
        return (start..<start + 8).reduce(0) { $0 << 8 | UInt64(buffer[$1]) }
    }

    mutating func bytes(_ count: Int, _ what: String) throws(MigrationStreamError) -> [UInt8] {
        try require(count, what)
        defer { consume(count) }
        return Array(buffer[start..<start + count])
    }

    /// A length byte and that many bytes: QEMU's names of sections and RAM blocks.
    mutating func name(_ what: String) throws(MigrationStreamError) -> String {
        let length = Int(try byte(what))
        return String(decoding: try bytes(length, what), as: UTF8.self)
    }

    /// Lends the next `count` bytes without copying them.
    mutating func withBytes<R>(_ count: Int, _ what: String,
                               _ body: (UnsafeRawBufferPointer) throws(MigrationStreamError) -> R) throws(MigrationStreamError) -> R {
        try require(count, what)
        defer { consume(count) }
        let first = start
        let lent: Result<R, MigrationStreamError> = buffer.withUnsafeBytes { raw in
            do throws(MigrationStreamError) {
                return .success(try body(UnsafeRawBufferPointer(rebasing: raw[first..<first + count])))
            } catch {
                return .failure(error)
            }
        }
        return try lent.get()
    }

    /// Everything up to the end of the stream.
    mutating func remainder() throws(MigrationStreamError) -> [UInt8] {
        var rest = Array(buffer[start..<end])
        consume(end - start)
        start = 0
        end = 0
        while try fill() > 0 {
            rest += buffer[0..<end]
            offset += Int64(end)
            end = 0
        }
        return rest
    }

    private mutating func consume(_ count: Int) {
        start += count
        offset += Int64(count)
    }
}
