import Foundation
import StasisCatalog

/// A read view of one session's Merkle tree at a given size: tile roots loaded once, leaves
/// loaded a tile at a time when a range needs them. Roots and proofs then cost O(n/256 + 256)
/// hashes instead of O(n).
final class TreeView {
    let session: String
    let size: Int
    private let db: any CatalogConnection
    private let tiles: [MerkleTree.Hash]
    private var leafTiles: [Int: [MerkleTree.Hash]] = [:]

    init(_ db: any CatalogConnection, session: String, size: Int) throws {
        self.db = db
        self.session = session
        self.size = size
        let complete = size / HistoryHashing.tileSize
        tiles = try db.query("SELECT hash FROM merkle_tiles WHERE session_id = ? AND tile < ? ORDER BY tile", session, complete)
            .map { try $0.blob("hash") }
        guard tiles.count == complete else {
            throw HistoryError.badArgument(field: "history", message: "session \(session) lacks Merkle tiles (\(tiles.count) of \(complete)); run `stasis history verify`")
        }
    }

    func leaf(_ i: Int) throws -> MerkleTree.Hash {
        let t = i / HistoryHashing.tileSize
        if leafTiles[t] == nil {
            let start = t * HistoryHashing.tileSize
            leafTiles[t] = try db.query("SELECT leaf FROM events WHERE session_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
                                        session, start, min(size, start + HistoryHashing.tileSize)).map { try $0.blob("leaf") }
        }
        let leaves = leafTiles[t]!
        let k = i % HistoryHashing.tileSize
        guard k < leaves.count else { throw HistoryError.eventNotFound(session: session, seq: Int64(i), size: Int64(size)) }
        return leaves[k]
    }

    /// The root of an aligned, complete run of tiles, if `range` is one.
    func tileRoot(_ range: Range<Int>) -> MerkleTree.Hash? {
        let t = HistoryHashing.tileSize
        guard range.count >= t, range.count & (range.count - 1) == 0, range.lowerBound % t == 0,
              range.upperBound <= tiles.count * t else { return nil }
        return MerkleTree.root(tiles[(range.lowerBound / t)..<(range.upperBound / t)])
    }

    func root(_ range: Range<Int>) throws -> MerkleTree.Hash {
        try MerkleTree.root(of: range, leaf: leaf, subtree: tileRoot)
    }

    var root: MerkleTree.Hash { get throws { try root(0..<size) } }

    func proof(_ index: Int) throws -> [MerkleTree.Hash] {
        try MerkleTree.inclusionProof(index: index, in: 0..<size, root: root)
    }
}
