import Foundation

/// What the catalog knows about an image (without its manifest).
public struct ImageRecord: Sendable, Codable, Equatable {
    public var id: String
    public var parentID: String?
    public var size: Int64
    public var chunkSize: Int
    /// Chunks that are not all zero, and their bytes.
    public var dataChunks: Int
    public var dataBytes: Int64
    /// Chunks this capture added to the store (not found by dedup), and their raw bytes.
    public var newChunks: Int
    public var newBytes: Int64
    /// The file it was captured from, as given.
    public var source: String
    public var createdAt: Date
}
