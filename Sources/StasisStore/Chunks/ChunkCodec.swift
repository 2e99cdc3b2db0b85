import CLZ4

/// How a chunk's bytes are kept in a pack. The raw value is the on-disk code (Formats/pack.md).
public enum ChunkEncoding: UInt8, Sendable {
    case raw = 0
    case lz4 = 1
}

/// LZ4 block compression of single chunks. A chunk is stored compressed only when that saves at
/// least 1/32 of it: below that, decompressing on every read costs more than the bytes are worth.
public enum ChunkCodec {
    /// Worst-case compressed size for `rawLength` bytes.
    public static func scratchCapacity(forRawLength rawLength: Int) -> Int {
        Int(LZ4_compressBound(Int32(rawLength)))
    }

    /// Compresses `source` into `scratch` (at least `scratchCapacity` bytes). Returns the compressed
    /// length, or nil when the chunk should be stored raw.
    @inline(__always)
    public static func compress(_ source: UnsafeRawBufferPointer, into scratch: UnsafeMutableRawBufferPointer) -> Int? {
        let n = LZ4_compress_default(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            scratch.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(scratch.count))
        guard n > 0, Int(n) <= source.count - source.count / 32 else { return nil }
        return Int(n)
    }

    /// Decompresses exactly `destination.count` bytes; false when the input is malformed or
    /// does not decode to that length.
    @inline(__always)
    public static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        guard source.count > 0, destination.count > 0 else { return false }
        let n = LZ4_decompress_safe(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            destination.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(destination.count))
        return Int(n) == destination.count
    }
}
