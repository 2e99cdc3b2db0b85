/// Where a chunk's stored bytes are: a pack (by position in `ChunkIndex.packIDs`) and an entry.
public struct ChunkLocation: Sendable, Equatable {
    public var pack: UInt32
    public var encoding: ChunkEncoding
    public var rawLength: UInt32
    public var storedLength: UInt32
    public var offset: Int64
}

/// The in-memory chunk index: chunk id → location, built from the catalog's pack entry tables.
/// Immutable once built, so the capture and materialize workers read it without locks.
public struct ChunkIndex: Sendable {
    public let packIDs: [String]
    public private(set) var locations: [ChunkID: ChunkLocation]

    public init(packs: [PackIndex]) {
        packIDs = packs.map(\.packID)
        var map: [ChunkID: ChunkLocation] = [:]
        map.reserveCapacity(packs.reduce(0) { $0 + $1.entries.count })
        for (ordinal, pack) in packs.enumerated() {
            for e in pack.entries {
                map[e.id] = ChunkLocation(pack: UInt32(ordinal), encoding: e.encoding, rawLength: UInt32(e.rawLength),
                                          storedLength: UInt32(e.storedLength), offset: e.offset)
            }
        }
        locations = map
    }

    @inline(__always)
    public func location(of id: ChunkID) -> ChunkLocation? { locations[id] }

    public var count: Int { locations.count }
}
