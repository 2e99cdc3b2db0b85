/// One frame of a pack: a run of chunks compressed (and, in an encrypted pack, sealed) together.
public struct PackFrame: Sendable, Equatable {
    /// Where its stored bytes start in the pack file.
    public var offset: Int64
    /// Bytes in the file, the AES-GCM tag included when sealed.
    public var storedLength: Int
    /// The frame's chunks' raw bytes together.
    public var rawLength: Int
    public var codec: FrameCodec
    /// The nonce it was sealed with (`.zero` when the pack is not encrypted).
    public var nonce: SealNonce

    public init(offset: Int64, storedLength: Int, rawLength: Int, codec: FrameCodec, nonce: SealNonce = .zero) {
        self.offset = offset; self.storedLength = storedLength; self.rawLength = rawLength
        self.codec = codec; self.nonce = nonce
    }
}

/// One chunk inside a pack: its frame and where its raw bytes are inside the frame's.
public struct PackEntry: Sendable, Equatable {
    public var id: ChunkID
    public var frame: Int
    public var offsetInFrame: Int
    public var rawLength: Int

    public init(id: ChunkID, frame: Int, offsetInFrame: Int, rawLength: Int) {
        self.id = id; self.frame = frame; self.offsetInFrame = offsetInFrame; self.rawLength = rawLength
    }
}
