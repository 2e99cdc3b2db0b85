/// One chunk inside a pack: where its stored bytes are and how to turn them back into raw bytes.
public struct PackEntry: Sendable, Equatable {
    public var id: ChunkID
    public var offset: Int64
    public var rawLength: Int
    public var storedLength: Int
    public var encoding: ChunkEncoding

    public init(id: ChunkID, offset: Int64, rawLength: Int, storedLength: Int, encoding: ChunkEncoding) {
        self.id = id; self.offset = offset; self.rawLength = rawLength
        self.storedLength = storedLength; self.encoding = encoding
    }
}
