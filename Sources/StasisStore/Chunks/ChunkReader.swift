import StasisIO

/// Reads single chunks back, verified: their frame opened and decompressed, the chunk's bytes
/// re-hashed. A chunk that fails either is reported with its pack and frame and never returned.
///
/// Keeps the last frame it decoded, so that reading the chunks of a frame one after another
/// decodes it once. One per thread: it owns its buffers.
final class ChunkReader {
    let index: ChunkIndex
    let packs: PackFiles
    private let decoder: FrameDecoder
    private var cached: (pack: UInt32, frame: UInt32)?
    private var frameBytes = UnsafeMutableRawBufferPointer.allocate(byteCount: PackFormat.defaultFrameSize, alignment: 64)
    private var storedBytes = UnsafeMutableRawBufferPointer.allocate(byteCount: PackFormat.defaultFrameSize + 4096, alignment: 64)
    private var scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: PackFormat.defaultFrameSize + 4096, alignment: 64)

    init(index: ChunkIndex, packs: PackFiles, cipher: StoreCipher?) {
        self.index = index
        self.packs = packs
        self.decoder = FrameDecoder(cipher: cipher)
    }

    deinit { frameBytes.deallocate(); storedBytes.deallocate(); scratch.deallocate() }

    /// Reads chunk `id` into `destination` (exactly its raw length).
    func read(_ id: ChunkID, into destination: UnsafeMutableRawBufferPointer, image: String) throws(StoreError) {
        guard let loc = index.location(of: id) else { throw .missingChunk(chunk: id, image: image) }
        let packID = index.packIDs[Int(loc.pack)]
        let frame = index.frame(of: loc)
        guard Int(loc.rawLength) == destination.count else {
            throw .corruptChunk(chunk: id, pack: packID, offset: frame.offset,
                                reason: "its entry says \(loc.rawLength) bytes where \(destination.count) were expected")
        }
        if cached == nil || cached! != (loc.pack, loc.frame) {
            cached = nil
            try load(frame, pack: loc.pack, packID: packID, chunk: id)
            cached = (loc.pack, loc.frame)
        }
        let start = Int(loc.offsetInFrame)
        let bytes = UnsafeRawBufferPointer(rebasing: frameBytes[start..<start + destination.count])
        guard ChunkHasher.id(of: bytes) == id else {
            throw .corruptChunk(chunk: id, pack: packID, offset: frame.offset, reason: "its bytes do not hash to its id")
        }
        destination.copyMemory(from: bytes)
    }

    private func load(_ frame: PackFrame, pack: UInt32, packID: String, chunk: ChunkID) throws(StoreError) {
        Self.ensure(&frameBytes, frame.rawLength)
        Self.ensure(&storedBytes, frame.storedLength)
        Self.ensure(&scratch, frame.storedLength)
        let fd = try packs.descriptor(for: packID)
        let stored = UnsafeMutableRawBufferPointer(rebasing: storedBytes[0..<frame.storedLength])
        let n = try StoreError.wrap { () throws(IOError) in try fd.read(into: stored, at: frame.offset) }
        guard n == frame.storedLength else {
            throw .corruptChunk(chunk: chunk, pack: packID, offset: frame.offset, reason: "the pack ends early (truncated)")
        }
        do throws(FrameDamage) {
            try decoder.decode(UnsafeRawBufferPointer(stored), frame: frame, header: index.headers[Int(pack)],
                               into: UnsafeMutableRawBufferPointer(rebasing: frameBytes[0..<frame.rawLength]), scratch: scratch)
        } catch {
            throw .corruptChunk(chunk: chunk, pack: packID, offset: frame.offset, reason: error.reason)
        }
    }

    /// Grows a buffer to at least `count` bytes.
    static func ensure(_ buffer: inout UnsafeMutableRawBufferPointer, _ count: Int) {
        guard buffer.count < count else { return }
        buffer.deallocate()
        buffer = .allocate(byteCount: count, alignment: 64)
    }
}
