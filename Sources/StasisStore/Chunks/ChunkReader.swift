import StasisIO

/// Reads single chunks back, verified: decompressed to exactly their raw length and re-hashed.
/// A chunk that fails either check is reported with its pack and offset and never returned.
struct ChunkReader: Sendable {
    let index: ChunkIndex
    let packs: PackFiles

    /// Reads chunk `id` into `destination` (exactly its raw length). `scratch` holds the stored
    /// bytes of a compressed chunk and must be at least as large as the stored length.
    func read(_ id: ChunkID, into destination: UnsafeMutableRawBufferPointer,
              scratch: UnsafeMutableRawBufferPointer, image: String) throws(StoreError) {
        guard let loc = index.location(of: id) else { throw .missingChunk(chunk: id, image: image) }
        let packID = index.packIDs[Int(loc.pack)]
        guard Int(loc.rawLength) == destination.count else {
            throw .corruptChunk(chunk: id, pack: packID, offset: loc.offset,
                                reason: "its entry says \(loc.rawLength) bytes where \(destination.count) were expected")
        }
        let fd = try packs.descriptor(for: packID)
        let stored = Int(loc.storedLength)
        let target = loc.encoding == .raw ? destination : UnsafeMutableRawBufferPointer(rebasing: scratch[0..<stored])
        let n = try StoreError.wrap { () throws(IOError) in try fd.read(into: target, at: loc.offset) }
        guard n == stored else {
            throw .corruptChunk(chunk: id, pack: packID, offset: loc.offset, reason: "the pack ends early (truncated)")
        }
        try Self.decodeAndVerify(id, stored: UnsafeRawBufferPointer(target), location: loc, packID: packID, into: destination)
    }

    /// Turns stored bytes (already in memory) into verified raw bytes in `destination`.
    @inline(__always)
    static func decodeAndVerify(_ id: ChunkID, stored: UnsafeRawBufferPointer, location loc: ChunkLocation,
                                packID: String, into destination: UnsafeMutableRawBufferPointer) throws(StoreError) {
        switch loc.encoding {
        case .raw:
            if stored.baseAddress != UnsafeRawPointer(destination.baseAddress) {
                destination.copyMemory(from: stored)
            }
        case .lz4:
            guard ChunkCodec.decompress(stored, into: destination) else {
                throw .corruptChunk(chunk: id, pack: packID, offset: loc.offset, reason: "its LZ4 data does not decode")
            }
        }
        guard ChunkHasher.id(of: UnsafeRawBufferPointer(destination)) == id else {
            throw .corruptChunk(chunk: id, pack: packID, offset: loc.offset, reason: "its bytes do not hash to its id")
        }
    }
}
