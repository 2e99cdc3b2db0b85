import Crypto
import Foundation

/// The recipe of a block image: its size, its chunk size, and for every aligned chunk either
/// "zero" or the id of its bytes. An image's id is the SHA-256 of its encoded manifest, so equal
/// contents captured twice give the same id (Formats/image-manifest.md).
public struct ImageManifest: Sendable, Equatable {
    public var imageSize: Int64
    public var chunkSize: Int
    /// One slot per chunk; nil is an all-zero chunk (stored as a hole, never as data).
    public var chunks: [ChunkID?]

    public init(imageSize: Int64, chunkSize: Int, chunks: [ChunkID?]) {
        self.imageSize = imageSize
        self.chunkSize = chunkSize
        self.chunks = chunks
    }

    public static func chunkCount(imageSize: Int64, chunkSize: Int) -> Int {
        Int((imageSize + Int64(chunkSize) - 1) / Int64(chunkSize))
    }

    /// Length of chunk `index` (the last one may be short).
    @inline(__always)
    public func length(ofChunk index: Int) -> Int {
        let start = Int64(index) * Int64(chunkSize)
        return Int(min(Int64(chunkSize), imageSize - start))
    }

    public var dataChunkCount: Int { chunks.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// Bytes held by non-zero chunks.
    public var dataBytes: Int64 {
        var total: Int64 = 0
        for (i, c) in chunks.enumerated() where c != nil { total += Int64(length(ofChunk: i)) }
        return total
    }
}
