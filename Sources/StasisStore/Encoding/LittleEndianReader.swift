/// Reads fixed-width little-endian integers with bounds checks: a truncated or malformed input
/// gives `Truncated` (with the field being read), never a crash.
struct LittleEndianReader {
    struct Truncated: Error { var field: String; var offset: Int }

    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    private mutating func take(_ n: Int, _ field: String) throws(Truncated) -> Int {
        guard n >= 0, offset <= bytes.count - n else { throw Truncated(field: field, offset: offset) }
        defer { offset += n }
        return offset
    }

    mutating func u8(_ field: String) throws(Truncated) -> UInt8 {
        bytes[try take(1, field)]
    }
    mutating func u16(_ field: String) throws(Truncated) -> UInt16 {
        UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(2, field), as: UInt16.self))
    }
    mutating func u32(_ field: String) throws(Truncated) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4, field), as: UInt32.self))
    }
    mutating func u64(_ field: String) throws(Truncated) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(8, field), as: UInt64.self))
    }
    mutating func chunkID(_ field: String) throws(Truncated) -> ChunkID {
        let at = try take(32, field)
        return ChunkID(bytes: UnsafeRawBufferPointer(rebasing: bytes[at..<at + 32]))
    }
    mutating func raw(_ n: Int, _ field: String) throws(Truncated) -> UnsafeRawBufferPointer {
        let at = try take(n, field)
        return UnsafeRawBufferPointer(rebasing: bytes[at..<at + n])
    }
    /// Checks a fixed magic string.
    mutating func expect(_ magic: StaticString, _ field: String) throws(Truncated) -> Bool {
        let n = magic.utf8CodeUnitCount
        let got = try raw(n, field)
        return magic.withUTF8Buffer { Array($0) == Array(got) }
    }
}
