/// The read order of a materialization: every distinct chunk once, sorted by pack and offset, in
/// batches that one worker reads with a single `pread` (nearby chunks of one pack).
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
    var storedBytes: Int64

    /// Largest span one batch reads, and the largest gap between chunks it reads over.
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
            (a.location.pack, a.location.offset, a.chunk) < (b.location.pack, b.location.offset, b.chunk)
        }
        var batches: [Batch] = []
        var storedBytes: Int64 = 0
        var i = 0
        while i < items.count {
            let first = items[i].location
            var end = first.offset + Int64(first.storedLength)
            var j = i + 1
            storedBytes += Int64(first.storedLength)
            while j < items.count {
                let loc = items[j].location
                if loc.pack != first.pack { break }
                if loc.offset == items[j - 1].location.offset { j += 1; continue }   // same chunk again
                let next = loc.offset + Int64(loc.storedLength)
                if loc.offset - end > maxGap || next - first.offset > maxBatchSpan { break }
                storedBytes += Int64(loc.storedLength)
                end = max(end, next)
                j += 1
            }
            batches.append(Batch(pack: first.pack, items: i..<j, readRange: first.offset..<end))
            i = j
        }
        return MaterializePlan(items: items, batches: batches, storedBytes: storedBytes)
    }
}
