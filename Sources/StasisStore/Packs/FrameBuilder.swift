/// A frame ready to go into a pack: its stored bytes (compressed, and sealed in an encrypted
/// store) and the chunks it holds, in order.
struct SealedFrame: Sendable {
    var stored: [UInt8]
    var rawLength: Int
    var codec: FrameCodec
    var nonce: SealNonce
    var chunks: [(id: ChunkID, rawLength: Int)]
}

/// Gathers new chunks into a frame, then compresses the frame (LZ4 or zstd, the store's setting)
/// and seals it.
/// One per worker, so that compression and encryption run in parallel and only appending a
/// finished frame to the pack writer is serialised.
final class FrameBuilder {
    let target: Int
    private let cipher: StoreCipher?
    private let zstd: ZstdCompressor?
    private var raw: UnsafeMutableRawBufferPointer
    private var compressed: UnsafeMutableRawBufferPointer
    private var length = 0
    private var chunks: [(id: ChunkID, rawLength: Int)] = []

    init(target: Int = PackFormat.defaultFrameSize, cipher: StoreCipher?, compression: FrameCompression = .default) {
        self.target = target
        self.cipher = cipher
        if case .zstd(let level) = compression { zstd = ZstdCompressor(level: level) } else { zstd = nil }
        raw = .allocate(byteCount: target, alignment: 64)
        compressed = .allocate(byteCount: Self.scratchCapacity(forRawLength: target), alignment: 64)
    }

    static func scratchCapacity(forRawLength length: Int) -> Int {
        max(LZ4Block.scratchCapacity(forRawLength: length), ZstdBlock.scratchCapacity(forRawLength: length))
    }

    deinit { raw.deallocate(); compressed.deallocate() }

    var isEmpty: Bool { chunks.isEmpty }

    /// Whether `length` more raw bytes would take a non-empty frame past its target: seal first.
    func wouldOverflow(adding count: Int) -> Bool { length > 0 && length + count > target }

    /// Adds a chunk's raw bytes. A chunk larger than the target makes a frame of its own.
    func add(_ id: ChunkID, _ bytes: UnsafeRawBufferPointer) {
        if length + bytes.count > raw.count {
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: length + bytes.count, alignment: 64)
            grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<length]))
            raw.deallocate()
            raw = grown
            compressed.deallocate()
            compressed = .allocate(byteCount: Self.scratchCapacity(forRawLength: grown.count), alignment: 64)
        }
        UnsafeMutableRawBufferPointer(rebasing: raw[length..<length + bytes.count]).copyMemory(from: bytes)
        length += bytes.count
        chunks.append((id, bytes.count))
    }

    /// Compresses and seals what was added, and starts an empty frame.
    func seal() -> SealedFrame {
        precondition(!chunks.isEmpty, "sealing an empty frame")
        let source = UnsafeRawBufferPointer(rebasing: raw[0..<length])
        var codec = FrameCodec.raw
        var payload = source
        if let zstd {
            if let n = zstd.compress(source, into: compressed) {
                codec = .zstd
                payload = UnsafeRawBufferPointer(rebasing: compressed[0..<n])
            }
        } else if let n = LZ4Block.compress(source, into: compressed) {
            codec = .lz4
            payload = UnsafeRawBufferPointer(rebasing: compressed[0..<n])
        }
        var stored: [UInt8] = []
        var nonce = SealNonce.zero
        if let cipher {
            stored.reserveCapacity(payload.count + StoreCipher.tagSize)
            nonce = cipher.seal(payload, authenticating: PackIndex.frameAAD(codec: codec, rawLength: length), appendingTo: &stored)
        } else {
            stored = Array(payload)
        }
        let frame = SealedFrame(stored: stored, rawLength: length, codec: codec, nonce: nonce, chunks: chunks)
        length = 0
        chunks.removeAll(keepingCapacity: true)
        if raw.count > target {
            raw.deallocate(); compressed.deallocate()
            raw = .allocate(byteCount: target, alignment: 64)
            compressed = .allocate(byteCount: Self.scratchCapacity(forRawLength: target), alignment: 64)
        }
        return frame
    }
}
