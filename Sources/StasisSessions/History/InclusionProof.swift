import StasisStore

/// Evidence that event `seq` is in a session's history as it stood at `treeSize` events: the
/// audit path from the event's leaf to the tree head. When `checkpoint` is set, the tree head is
/// the one that checkpoint's record carries and the store key signed.
public struct InclusionProof: Sendable, Codable {
    public var session: String
    public var seq: Int64
    public var treeSize: Int64
    public var leaf: String
    public var path: [String]
    public var root: String
    public var checkpoint: String?
    public var signature: String?
    public var publicKey: String?
    /// The proof checked out (recomputed from the leaf and path against the root, and the
    /// checkpoint signature against the public key).
    public var verified: Bool

    /// Recomputes the root from the leaf and the path.
    public func check() -> Bool {
        guard let leaf = StoreKey.bytes(fromHex: leaf), let root = StoreKey.bytes(fromHex: root) else { return false }
        let path = self.path.compactMap { StoreKey.bytes(fromHex: $0) }
        guard path.count == self.path.count else { return false }
        return MerkleTree.verifyInclusion(leaf: leaf, index: Int(seq), size: Int(treeSize), proof: path, root: root)
    }
}
