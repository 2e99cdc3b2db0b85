/// A grid of fixed-size, aligned chunks over an image: chunk `i` covers bytes
/// `i * chunkSize ..< min((i + 1) * chunkSize, imageSize)`, so only the last chunk can be short.
///
/// Used where a VM memory image is addressed by page-aligned blocks rather than cut by content.
public struct FixedChunkGrid: Sendable, Hashable {
    /// The smallest accepted chunk size (4 KiB, one page).
    public static let minimumChunkSize = 4 << 10
    /// The largest accepted chunk size (2 MiB, one huge page).
    public static let maximumChunkSize = 2 << 20

    /// The size of every chunk but the last; a power of two.
    public let chunkSize: Int
    /// `log2(chunkSize)`.
    private let shift: Int64

    /// Validates that `chunkSize` is a power of two from 4 KiB to 2 MiB.
    public init(chunkSize: Int) throws(ChunkingError) {
        guard chunkSize > 0, chunkSize & (chunkSize - 1) == 0 else {
            throw .chunkSizeNotPowerOfTwo(chunkSize: chunkSize)
        }
        guard (Self.minimumChunkSize...Self.maximumChunkSize).contains(chunkSize) else {
            throw .chunkSizeOutOfRange(chunkSize: chunkSize)
        }
        self.chunkSize = chunkSize
        self.shift = Int64(chunkSize.trailingZeroBitCount)
    }

    /// The number of chunks of an image of `imageSize` bytes (0 for an empty image).
    public func chunkCount(forImageSize imageSize: Int64) -> Int {
        precondition(imageSize >= 0, "negative image size \(imageSize)")
        let full = imageSize >> shift
        let partial: Int64 = imageSize & Int64(chunkSize - 1) == 0 ? 0 : 1
        return Int(full + partial)
    }

    /// The index of the chunk holding byte `offset` (which must be non-negative).
    public func chunkIndex(containing offset: Int64) -> Int {
        precondition(offset >= 0, "negative offset \(offset)")
        return Int(offset >> shift)
    }

    /// The bytes covered by chunk `index`; the last chunk is cut short at `imageSize`.
    /// `index` must be below `chunkCount(forImageSize: imageSize)`.
    public func range(ofChunk index: Int, imageSize: Int64) -> Range<Int64> {
        precondition(
            index >= 0 && index < chunkCount(forImageSize: imageSize),
            "chunk \(index) out of range for an image of \(imageSize) bytes"
        )
        let lower = Int64(index) << shift
        return lower..<min(lower + Int64(chunkSize), imageSize)
    }

    /// The indices of the chunks that share at least one byte with `range`, after clamping
    /// `range` to the image. Empty when the clamped range is empty: then positioned at the
    /// chunk holding `range.lowerBound`, or at the chunk count when that is past the image.
    /// `range.lowerBound` must be non-negative.
    public func chunks(overlapping range: Range<Int64>, imageSize: Int64) -> Range<Int> {
        precondition(range.lowerBound >= 0, "negative offset \(range.lowerBound)")
        precondition(imageSize >= 0, "negative image size \(imageSize)")
        let lower = min(range.lowerBound, imageSize)
        let upper = min(range.upperBound, imageSize)
        if lower >= upper {
            let position = lower < imageSize ? Int(lower >> shift) : chunkCount(forImageSize: imageSize)
            return position..<position
        }
        return Int(lower >> shift)..<Int((upper - 1) >> shift) + 1
    }
}
