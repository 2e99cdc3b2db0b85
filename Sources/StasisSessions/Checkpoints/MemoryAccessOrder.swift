import Foundation

/// The order in which a restored guest first touched the chunks of its memory image: what a
/// lazy restore of the same checkpoint prefetches first (Formats/lazy-restore.md, "Prefetch in
/// recorded order"). Stored as a blob — JSON, keys sorted — named by a `memory_access_orders`
/// row of its checkpoint.
///
/// An order only steers what is fetched first: every chunk is still verified against its id
/// when fetched, so a wrong order can make a restore slower, never its memory wrong. Decoding
/// still refuses anything that is not an order of exactly this image.
public struct MemoryAccessOrder: Sendable, Equatable {
    public static let format = "stasis-memory-access-order"
    public static let version = 1

    /// The memory image whose chunk indexes these are.
    public var image: String
    public var chunkSize: Int
    /// Chunk indexes, in order of first touch, each once.
    public var chunks: [Int]

    public init(image: String, chunkSize: Int, chunks: [Int]) {
        self.image = image
        self.chunkSize = chunkSize
        self.chunks = chunks
    }

    struct Encoded: Codable {
        var format: String
        var version: Int
        var image: String
        var chunk_size: Int
        var chunks: [Int]
    }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let value = Encoded(format: Self.format, version: Self.version, image: image, chunk_size: chunkSize, chunks: chunks)
        return Array((try? encoder.encode(value)) ?? Data())
    }

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Decodes an order and checks it belongs to `image` (`chunkSize`, `chunkCount` chunks):
    /// every index within the image, none twice.
    public static func decode(_ bytes: [UInt8], image: String, chunkSize: Int, chunkCount: Int) throws(Invalid) -> MemoryAccessOrder {
        let value: Encoded
        do { value = try JSONDecoder().decode(Encoded.self, from: Data(bytes)) } catch {
            throw Invalid(description: "not a memory access order (\(bytes.count) bytes of something else)")
        }
        guard value.format == format, value.version == version else {
            throw Invalid(description: "format \(value.format) version \(value.version), expected \(format) version \(version)")
        }
        guard value.image == image else { throw Invalid(description: "it is the order of image \(value.image), not of \(image)") }
        guard value.chunk_size == chunkSize else {
            throw Invalid(description: "it counts \(value.chunk_size)-byte chunks; the image has \(chunkSize)-byte chunks")
        }
        var seen = Set<Int>()
        for c in value.chunks {
            guard c >= 0, c < chunkCount else { throw Invalid(description: "chunk index \(c) is outside the image's \(chunkCount) chunks") }
            guard seen.insert(c).inserted else { throw Invalid(description: "chunk index \(c) appears twice") }
        }
        return MemoryAccessOrder(image: image, chunkSize: chunkSize, chunks: value.chunks)
    }
}
