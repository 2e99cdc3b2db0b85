/// FastCDC content-defined chunking (Xia et al., "FastCDC: a Fast and Efficient Content-Defined
/// Chunking Approach for Data Deduplication", USENIX ATC 2016).
///
/// Cut points depend only on the bytes of the chunk being cut, so an insertion or deletion
/// disturbs the chunks around the edit and the following boundaries fall back into step with
/// the old ones. That is what lets two checkpoints of a microVM share most of their blobs.
///
/// **The boundaries are part of the on-disk format** (stored blob manifests list them): the
/// Gear table (``gearTable``), the masks and the rule below must never change. The full
/// specification, with a known-answer vector, is `Formats/fastcdc.md`.
///
/// Boundary rule for a chunk starting at the first byte of `b` (`n` bytes available, all
/// arithmetic modulo 2⁶⁴, `G` = ``gearTable``):
///
/// 1. If `n <= minSize`, the chunk is all `n` bytes.
/// 2. Otherwise let `limit = min(n, maxSize)` and `fp = 0`. For `i` in `minSize..<limit`
///    (the first `minSize` bytes are skipped, never hashed):
///    `fp = (fp << 1) + G[b[i]]`; the mask is ``smallMask`` while `i < averageSize`,
///    ``largeMask`` from then on; if `fp & mask == 0` the chunk is `i + 1` bytes long.
/// 3. If no position matched, the chunk is `limit` bytes long.
///
/// Every chunk except the last of a stream is therefore `minSize + 1 ... maxSize` bytes long.
public struct FastCDC: Sendable, Hashable {
    /// The smallest accepted `minSize`.
    public static let minimumMinSize = 64
    /// The largest accepted `maxSize` (16 MiB).
    public static let maximumMaxSize = 16 << 20
    /// Normalized-chunking level: ``smallMask`` has `log2(averageSize) + 2` one bits and
    /// ``largeMask`` has `log2(averageSize) - 2`.
    public static let normalizationLevel = 2

    /// The standard parameters (2 KiB / 8 KiB / 64 KiB).
    public static let standard: FastCDC = try! FastCDC()

    /// Chunks are longer than this (except a stream's last chunk, which may be shorter).
    public let minSize: Int
    /// The normalization point: positions before it are tested against the harder ``smallMask``.
    public let averageSize: Int
    /// No chunk is longer than this.
    public let maxSize: Int
    /// `MaskS`: the `log2(averageSize) + 2` most significant bits set.
    public let smallMask: UInt64
    /// `MaskL`: the `log2(averageSize) - 2` most significant bits set.
    public let largeMask: UInt64

    /// Validates the parameters: `64 <= minSize < averageSize < maxSize <= 16 MiB`, with
    /// `averageSize` a power of two.
    public init(minSize: Int = 2048, averageSize: Int = 8192, maxSize: Int = 65536) throws(ChunkingError) {
        guard minSize >= Self.minimumMinSize else { throw .minSizeTooSmall(minSize: minSize) }
        guard maxSize <= Self.maximumMaxSize else { throw .maxSizeTooLarge(maxSize: maxSize) }
        guard averageSize > 0, averageSize & (averageSize - 1) == 0 else {
            throw .averageSizeNotPowerOfTwo(averageSize: averageSize)
        }
        guard minSize < averageSize else {
            throw .minSizeNotBelowAverageSize(minSize: minSize, averageSize: averageSize)
        }
        guard averageSize < maxSize else {
            throw .averageSizeNotBelowMaxSize(averageSize: averageSize, maxSize: maxSize)
        }
        self.minSize = minSize
        self.averageSize = averageSize
        self.maxSize = maxSize
        // averageSize > minSize >= 64, so bits >= 7 and both masks have 5...25 bits.
        let bits = averageSize.trailingZeroBitCount
        self.smallMask = Self.topBitsMask(bits + Self.normalizationLevel)
        self.largeMask = Self.topBitsMask(bits - Self.normalizationLevel)
    }

    /// A mask with the `count` most significant bits set (`count` in 1...63). In the Gear hash
    /// the high bits depend on the most bytes (bit k on the last k + 1), so the test uses them.
    static func topBitsMask(_ count: Int) -> UInt64 {
        UInt64.max &<< UInt64(64 - count)
    }

    /// The length of the chunk that starts at the first byte of `buffer`.
    ///
    /// Pass everything that is available, at least `maxSize` bytes except at the end of the
    /// input: a result equal to `buffer.count` can mean "ran out of bytes" rather than "cut
    /// here", and only at end-of-stream is that the same thing. Returns `buffer.count` when
    /// `buffer.count <= minSize` (so 0 for an empty buffer), and never more than `maxSize`.
    public func nextBoundary(in buffer: UnsafeRawBufferPointer) -> Int {
        let count = buffer.count
        guard count > minSize, let base = buffer.baseAddress else { return count }
        let limit = min(count, maxSize)
        var hash: UInt64 = 0
        return findCut(base.assumingMemoryBound(to: UInt8.self), from: minSize, to: limit, hash: &hash) ?? limit
    }

    /// Calls `body` with the byte range of every chunk of `buffer`, in order, without allocating.
    public func forEachChunk<E: Error>(
        in buffer: UnsafeRawBufferPointer,
        _ body: (Range<Int>) throws(E) -> Void
    ) throws(E) {
        var start = 0
        while start < buffer.count {
            let length = nextBoundary(in: UnsafeRawBufferPointer(rebasing: buffer[start...]))
            try body(start..<start + length)
            start += length
        }
    }

    /// The chunks of `buffer`, as byte ranges that cover it exactly, in order.
    public func chunks(of buffer: UnsafeRawBufferPointer) -> [Range<Int>] {
        var result: [Range<Int>] = []
        result.reserveCapacity(buffer.count / averageSize + 2)
        forEachChunk(in: buffer) { result.append($0) }
        return result
    }

    /// The chunks of `data`, as ranges of byte offsets from its first element (not indices of
    /// `data`, which may differ for slices), covering it exactly, in order.
    public func chunks(of data: some Collection<UInt8>) -> [Range<Int>] {
        if let result = data.withContiguousStorageIfAvailable({ chunks(of: UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(data).withUnsafeBytes { chunks(of: $0) }
    }

    /// The hot loop. Hashes chunk-local positions `from..<to` of the chunk starting at `chunk`,
    /// continuing from `hash`, and returns the chunk length if one of them is a cut point.
    /// `hash` is left at its value after the last position hashed, so a caller that gets `nil`
    /// can resume at `to` once more bytes are available (see ``Stream``).
    ///
    /// Requires `minSize <= from` and `to <= maxSize`.
    func findCut(_ chunk: UnsafePointer<UInt8>, from: Int, to: Int, hash: inout UInt64) -> Int? {
        Self.gearTable.withUnsafeBufferPointer { table in
            let gear = table.baseAddress.unsafelyUnwrapped
            var fp = hash
            defer { hash = fp }
            // Before the normalization point: the harder mask.
            let barrier = min(max(from, averageSize), to)
            if let cut = Self.scan(chunk, from, barrier, smallMask, gear, &fp) { return cut }
            // From the normalization point on: the easier mask.
            return Self.scan(chunk, max(from, barrier), to, largeMask, gear, &fp)
        }
    }

    @inline(__always)
    private static func scan(
        _ bytes: UnsafePointer<UInt8>, _ from: Int, _ to: Int, _ mask: UInt64,
        _ gear: UnsafePointer<UInt64>, _ fp: inout UInt64
    ) -> Int? {
        var h = fp
        var i = from
        while i < to {
            h = (h &<< 1) &+ gear[Int(bytes[i])]
            if h & mask == 0 {
                fp = h
                return i &+ 1
            }
            i &+= 1
        }
        fp = h
        return nil
    }
}
