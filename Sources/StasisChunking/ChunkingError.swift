/// A chunker was configured with parameters it cannot work with.
///
/// Every case names the offending parameter (``parameter``) and its value, and the
/// ``description`` says what to change, so the message can be shown to an operator as is.
public enum ChunkingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// FastCDC `minSize` is below ``FastCDC/minimumMinSize``.
    case minSizeTooSmall(minSize: Int)
    /// FastCDC `maxSize` is above ``FastCDC/maximumMaxSize``.
    case maxSizeTooLarge(maxSize: Int)
    /// FastCDC `averageSize` is not a positive power of two.
    case averageSizeNotPowerOfTwo(averageSize: Int)
    /// FastCDC `minSize` is not strictly below `averageSize`.
    case minSizeNotBelowAverageSize(minSize: Int, averageSize: Int)
    /// FastCDC `averageSize` is not strictly below `maxSize`.
    case averageSizeNotBelowMaxSize(averageSize: Int, maxSize: Int)
    /// ``FixedChunkGrid`` `chunkSize` is not a positive power of two.
    case chunkSizeNotPowerOfTwo(chunkSize: Int)
    /// ``FixedChunkGrid`` `chunkSize` is outside
    /// ``FixedChunkGrid/minimumChunkSize``...``FixedChunkGrid/maximumChunkSize``.
    case chunkSizeOutOfRange(chunkSize: Int)

    /// The name of the parameter that was rejected, as spelled in the initializer.
    public var parameter: String {
        switch self {
        case .minSizeTooSmall, .minSizeNotBelowAverageSize: "minSize"
        case .maxSizeTooLarge: "maxSize"
        case .averageSizeNotPowerOfTwo, .averageSizeNotBelowMaxSize: "averageSize"
        case .chunkSizeNotPowerOfTwo, .chunkSizeOutOfRange: "chunkSize"
        }
    }

    public var description: String {
        switch self {
        case .minSizeTooSmall(let minSize):
            "FastCDC minSize \(minSize) is too small: use minSize >= \(FastCDC.minimumMinSize) bytes"
        case .maxSizeTooLarge(let maxSize):
            "FastCDC maxSize \(maxSize) is too large: use maxSize <= \(FastCDC.maximumMaxSize) bytes (16 MiB)"
        case .averageSizeNotPowerOfTwo(let averageSize):
            "FastCDC averageSize \(averageSize) is not a power of two: use a power of two such as 8192"
        case .minSizeNotBelowAverageSize(let minSize, let averageSize):
            "FastCDC minSize \(minSize) must be below averageSize \(averageSize): lower minSize or raise averageSize"
        case .averageSizeNotBelowMaxSize(let averageSize, let maxSize):
            "FastCDC averageSize \(averageSize) must be below maxSize \(maxSize): raise maxSize or lower averageSize"
        case .chunkSizeNotPowerOfTwo(let chunkSize):
            "fixed chunkSize \(chunkSize) is not a power of two: use a power of two such as 65536"
        case .chunkSizeOutOfRange(let chunkSize):
            "fixed chunkSize \(chunkSize) is out of range: use a power of two from "
                + "\(FixedChunkGrid.minimumChunkSize) (4 KiB) to \(FixedChunkGrid.maximumChunkSize) (2 MiB)"
        }
    }
}
