/// Why a frame's stored bytes did not turn back into its raw bytes.
struct FrameDamage: Error {
    var reason: String
}

/// Turns a frame's stored bytes back into its raw bytes: opens the seal (encrypted packs), then
/// decompresses. Chunk hashes are checked by the callers, per chunk.
struct FrameDecoder: Sendable {
    let cipher: StoreCipher?

    /// Decodes `stored` (exactly `frame.storedLength` bytes) into `destination` (exactly
    /// `frame.rawLength` bytes). `scratch` holds an opened compressed frame and must be at least
    /// `frame.storedLength` bytes.
    func decode(_ stored: UnsafeRawBufferPointer, frame: PackFrame, header: PackFormat.Header,
                into destination: UnsafeMutableRawBufferPointer, scratch: UnsafeMutableRawBufferPointer) throws(FrameDamage) {
        var payload = stored
        if header.encrypted {
            guard let cipher else { throw FrameDamage(reason: "its pack is encrypted and this store has no keys: it comes from another store") }
            let length = stored.count - StoreCipher.tagSize
            guard length > 0 else { throw FrameDamage(reason: "its frame is shorter than a tag") }
            let target = frame.codec == .raw ? destination : UnsafeMutableRawBufferPointer(rebasing: scratch[0..<length])
            do {
                try cipher.open(stored, keyID: header.keyID, nonce: frame.nonce,
                                authenticating: PackIndex.frameAAD(codec: frame.codec, rawLength: frame.rawLength), into: target, subject: "frame")
            } catch {
                throw FrameDamage(reason: "its frame at \(frame.offset) does not decrypt with data key \(header.keyID): the pack was changed, or the frame is another pack's")
            }
            if frame.codec == .raw { return }
            payload = UnsafeRawBufferPointer(target)
        }
        switch frame.codec {
        case .raw:
            guard payload.count == destination.count else { throw FrameDamage(reason: "its raw frame is \(payload.count) bytes, not \(destination.count)") }
            if payload.baseAddress != UnsafeRawPointer(destination.baseAddress) { destination.copyMemory(from: payload) }
        case .lz4:
            guard LZ4Block.decompress(payload, into: destination) else {
                throw FrameDamage(reason: "its frame at \(frame.offset) holds LZ4 data that does not decode")
            }
        case .zstd:
            guard ZstdBlock.decompress(payload, into: destination) else {
                throw FrameDamage(reason: "its frame at \(frame.offset) holds zstd data that does not decode")
            }
        }
    }
}
