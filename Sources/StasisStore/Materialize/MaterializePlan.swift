/// The read order of a materialization: every distinct chunk once, sorted by pack, frame and
/// place in the frame, in batches of whole frames that one worker reads with a single `pread`
/// (nearby frames of one pack) and decodes frame by frame.
struct MaterializePlan: Sendable {
    /// One chunk to read, and one place to write it (a chunk used twice appears twice, adjacent).
    struct Item: Sendable {
        var id: ChunkID
        var location: ChunkLocation
        var chunk: Int
    }
    struct Batch: Sendable {
        var pack: UInt32
        var items: Range<Int>
        var readRange: Range<Int64>
    }

    var items: [Item]
    var batches: [Batch]
    /// Bytes read from packs: every frame the image needs, once.
    var storedBytes: Int64
    /// The largest frame, raw and stored (the workers' buffers).
    var largestFrame: (raw: Int, stored: Int)

    /// Largest span one batch reads (unless one frame is larger), and the largest gap between
    /// frames it reads over.
    static let maxBatchSpan: Int64 = 4 << 20
    static let maxGap: Int64 = 64 << 10

    /// Throws `missingChunk` before anything is written when the manifest names an unknown chunk.
    static func make(manifest: ImageManifest, index: ChunkIndex, imageID: String) throws(StoreError) -> MaterializePlan {
        var items: [Item] = []
        items.reserveCapacity(manifest.chunks.count / 2)
        for (c, slot) in manifest.chunks.enumerated() {
            guard let id = slot else { continue }
            guard let loc = index.location(of: id) else { throw .missingChunk(chunk: id, image: imageID) }
            items.append(Item(id: id, location: loc, chunk: c))
        }
        items.sort { a, b in
            (a.location.pack, a.location.frame, a.location.offsetInFrame, a.chunk) < (b.location.pack, b.location.frame, b.location.offsetInFrame, b.chunk)
        }
        var batches: [Batch] = []
        var storedBytes: Int64 = 0
        var largest = (raw: 0, stored: 0)
        var i = 0
        while i < items.count {
            let first = items[i].location
            let firstFrame = index.frame(of: first)
            var end = firstFrame.offset + Int64(firstFrame.storedLength)
            var lastFrame = first.frame
            storedBytes += Int64(firstFrame.storedLength)
            largest = (max(largest.raw, firstFrame.rawLength), max(largest.stored, firstFrame.storedLength))
            var j = i + 1
            while j < items.count {
                let loc = items[j].location
                if loc.pack != first.pack { break }
                if loc.frame != lastFrame {
                    let frame = index.frame(of: loc)
                    let next = frame.offset + Int64(frame.storedLength)
                    if frame.offset - end > maxGap || next - firstFrame.offset > maxBatchSpan { break }
                    storedBytes += Int64(frame.storedLength)
                    largest = (max(largest.raw, frame.rawLength), max(largest.stored, frame.storedLength))
                    end = max(end, next)
                    lastFrame = loc.frame
                }
                j += 1
            }
            batches.append(Batch(pack: first.pack, items: i..<j, readRange: firstFrame.offset..<end))
            i = j
        }
        return MaterializePlan(items: items, batches: batches, storedBytes: storedBytes, largestFrame: largest)
    }
}
