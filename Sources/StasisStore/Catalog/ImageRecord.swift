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

    public init(id: String, parentID: String?, size: Int64, chunkSize: Int, dataChunks: Int, dataBytes: Int64,
                newChunks: Int, newBytes: Int64, source: String, createdAt: Date) {
        self.id = id; self.parentID = parentID; self.size = size; self.chunkSize = chunkSize
        self.dataChunks = dataChunks; self.dataBytes = dataBytes; self.newChunks = newChunks
        self.newBytes = newBytes; self.source = source; self.createdAt = createdAt
    }
}
