/// Where the packs a materialization reads come from on this host, decided before anything is
/// read, so that `restore plan --explain` can say it and materialize does exactly that:
/// - packs already in this host's directory (one host: all of them; a fleet host: its cache);
/// - packs fetched whole from object storage into the cache, when the image reads most of them
///   (the next restore near this one finds them here);
/// - frames fetched with ranged GETs, when the image reads a small part of a pack (an
///   incremental restore patching a cached base): only the batches' spans come down, into a
///   private temporary file that is removed afterwards.
///
/// Whatever the source, every frame is opened (and authenticated when sealed) and every chunk
/// re-hashed against its id before it is written.
public struct PackSources: Sendable, Codable, Equatable {
    /// Packs read from this host's directory, and the bytes read from them.
    public var cachedPacks = 0
    public var cachedBytes: Int64 = 0
    /// Packs downloaded whole, and their bytes.
    public var wholePacks = 0
    public var wholeBytes: Int64 = 0
    /// Packs read with ranged GETs, how many requests, and the bytes they move.
    public var rangedPacks = 0
    public var rangedRequests = 0
    public var rangedBytes: Int64 = 0
    /// The object storage the rest comes from (nil on one host).
    public var objects: String?

    public init() {}

    /// Bytes that cross the network.
    public var fetchedBytes: Int64 { wholeBytes + rangedBytes }
}

/// The per-pack decisions behind `PackSources`.
struct PackFetchPlan: Sendable {
    enum Source: Sendable, Equatable {
        case cached
        case whole
        /// Spans of the pack file, ascending and disjoint.
        case ranges([Range<Int64>])
    }

    /// By pack index in the chunk index, for every pack the plan reads.
    var sources: [UInt32: Source]
    var summary: PackSources

    /// A pack is fetched whole when the image reads at least this share of its frames' bytes.
    static let wholeShare = 0.5
    /// Ranged requests merge batches this close together, up to this size.
    static let rangeMergeGap: Int64 = 256 << 10
    static let maxRangeSize: Int64 = 8 << 20

    /// `isCached` says whether a pack's file is on this host; `objects` names the object storage
    /// (nil on one host, where every pack must be local).
    static func make(plan: MaterializePlan, index: ChunkIndex, objects: String?, isCached: (String) -> Bool) -> PackFetchPlan {
        var spans: [UInt32: [Range<Int64>]] = [:]
        var order: [UInt32] = []
        for batch in plan.batches {
            if spans[batch.pack] == nil { order.append(batch.pack) }
            spans[batch.pack, default: []].append(batch.readRange)
        }
        var sources: [UInt32: Source] = [:]
        var summary = PackSources()
        summary.objects = objects
        for pack in order {
            let read = spans[pack]!.reduce(Int64(0)) { $0 + Int64($1.count) }
            if objects == nil || isCached(index.packIDs[Int(pack)]) {
                sources[pack] = .cached
                summary.cachedPacks += 1
                summary.cachedBytes += read
                continue
            }
            let frames = index.frames[Int(pack)]
            let dataBytes = frames.last.map { $0.offset + Int64($0.storedLength) - frames[0].offset } ?? 0
            if Double(read) >= Double(dataBytes) * wholeShare {
                sources[pack] = .whole
                summary.wholePacks += 1
                summary.wholeBytes += dataBytes
            } else {
                let ranges = merge(spans[pack]!.sorted { $0.lowerBound < $1.lowerBound })
                sources[pack] = .ranges(ranges)
                summary.rangedPacks += 1
                summary.rangedRequests += ranges.count
                summary.rangedBytes += ranges.reduce(Int64(0)) { $0 + Int64($1.count) }
            }
        }
        return PackFetchPlan(sources: sources, summary: summary)
    }

    /// Joins spans separated by small gaps (one request instead of several round trips), never
    /// past `maxRangeSize` unless a single span is larger.
    static func merge(_ sorted: [Range<Int64>]) -> [Range<Int64>] {
        var merged: [Range<Int64>] = []
        for span in sorted {
            if let last = merged.last, span.lowerBound - last.upperBound <= rangeMergeGap,
               max(span.upperBound, last.upperBound) - last.lowerBound <= maxRangeSize {
                merged[merged.count - 1] = last.lowerBound..<max(span.upperBound, last.upperBound)
            } else {
                merged.append(span)
            }
        }
        return merged
    }
}
