import StasisIO

/// Space accounting for a store.
public struct StoreStats: Sendable, Codable {
    public var images: Int
    public var blobs: Int
    public var packs: Int
    /// Chunks held in packs (referenced or not).
    public var chunks: Int
    /// Sum of image sizes and blob sizes, as users see them.
    public var logicalBytes: Int64
    /// The non-zero part of that (zero chunks are never stored).
    public var dataBytes: Int64
    /// Raw bytes of the distinct chunks that images and blobs reference.
    public var uniqueBytes: Int64
    /// Bytes of those chunks as stored (after compression).
    public var storedChunkBytes: Int64
    /// Pack files plus catalog, on disk.
    public var storeBytes: Int64
    /// dataBytes / uniqueBytes.
    public var dedupRatio: Double
    /// uniqueBytes / storedChunkBytes.
    public var compressionRatio: Double
    /// logicalBytes / storeBytes.
    public var overallRatio: Double
    /// Bytes in packs that nothing references (what `gc` can reclaim, before repacking).
    public var unreferencedBytes: Int64
    /// What new data is compressed with (`stasis init --compression`).
    public var compression: String
    public var encrypted: Bool
}

extension ContentStore {
    public func stats() throws(StoreError) -> StoreStats {
        try withLock(.shared) { () throws(StoreError) -> StoreStats in
            let packs = try packIndexes()
            let records = try catalog.packs()
            let index = ChunkIndex(packs: packs)
            let images = try catalog.images()
            let blobs = try catalog.blobs()
            let live = try referencedChunks()
            // A chunk's stored bytes: its share of its frame's, by raw length.
            var unique: Int64 = 0, stored: Double = 0
            for c in live {
                guard let loc = index.location(of: c) else { continue }
                let frame = index.frame(of: loc)
                unique += Int64(loc.rawLength)
                stored += Double(frame.storedLength) * Double(loc.rawLength) / Double(frame.rawLength)
            }
            let storedLive = Int64(stored.rounded())
            let allStored = packs.reduce(Int64(0)) { $0 + $1.storedBytes }
            let catalogBytes = ["", "-wal", "-shm"].reduce(Int64(0)) { $0 + ((try? FileSystem.allocatedSize(catalog.path + $1)) ?? 0) }
            let storeBytes = records.reduce(Int64(0)) { $0 + $1.size } + catalogBytes
            let logical = images.reduce(Int64(0)) { $0 + $1.size } + blobs.reduce(Int64(0)) { $0 + $1.size }
            let data = images.reduce(Int64(0)) { $0 + $1.dataBytes } + blobs.reduce(Int64(0)) { $0 + $1.size }
            func ratio(_ a: Int64, _ b: Int64) -> Double { b == 0 ? 0 : (Double(a) / Double(b) * 1000).rounded() / 1000 }
            return StoreStats(
                images: images.count, blobs: blobs.count, packs: packs.count, chunks: index.count,
                logicalBytes: logical, dataBytes: data, uniqueBytes: unique, storedChunkBytes: storedLive,
                storeBytes: storeBytes, dedupRatio: ratio(data, unique), compressionRatio: ratio(unique, storedLive),
                overallRatio: ratio(logical, storeBytes), unreferencedBytes: max(0, allStored - storedLive),
                compression: compression.description, encrypted: isEncrypted)
        }
    }
}
