import CLZ4

/// How a frame's bytes are compressed. The raw value is the on-disk code (Formats/pack.md);
/// version-1 packs use the same codes for single chunks.
public enum FrameCodec: UInt8, Sendable {
    case raw = 0
    /// liblz4's block format (no LZ4 frame header), one block per frame.
    case lz4 = 1
    /// One zstd frame (RFC 8878) per frame, no dictionary.
    case zstd = 2
}

/// LZ4 block compression. A frame is stored compressed only when that saves at least 1/32 of it:
/// below that, decompressing on every read costs more than the bytes are worth.
///
/// Why LZ4 and frames of 128 KiB, measured on real files laid out as guest memory (595 MiB of
/// distinct pages: Python's library, shared libraries, documentation): one LZ4 stream 283.9 MiB;
/// per 4 KiB chunk 325.3 (1.15×); frames of 32 KiB 294.4, 64 KiB 289.3, 128 KiB 286.6 (1.01×),
/// 1 MiB 284.3. zstd -1 in 128 KiB frames stores 215.6 MiB, compressing at about 0.6× and
/// decompressing at about 0.4× LZ4's speed per core; measured end to end that costs little wall
/// time, and zstd became the default (`FrameCompression`).
public enum LZ4Block {
    /// Worst-case compressed size for `rawLength` bytes.
    public static func scratchCapacity(forRawLength rawLength: Int) -> Int {
        Int(LZ4_compressBound(Int32(rawLength)))
    }

    /// Compresses `source` into `scratch` (at least `scratchCapacity` bytes). Returns the compressed
    /// length, or nil when the bytes should be stored raw.
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
