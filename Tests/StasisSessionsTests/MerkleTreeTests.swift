import Crypto
import PropertyBased
import Testing
@testable import StasisSessions

/// Invariants checked: RFC 6962 hashing (known leaf/node domain separation and the split rule);
/// every audit path of every leaf verifies against the root for tree sizes across tile
/// boundaries; a path with any hash changed, or for another index or size, does not.
@Suite("RFC 6962 Merkle tree")
struct MerkleTreeTests {
    func leaves(_ n: Int) -> [MerkleTree.Hash] { (0..<n).map { MerkleTree.leafHash(Array("leaf \($0)".utf8)) } }

    @Test("hash definitions")
    func definitions() {
        #expect(MerkleTree.emptyRoot == Array(SHA256.hash(data: [UInt8]())))
        #expect(MerkleTree.leafHash([]) == Array(SHA256.hash(data: [0])))
        let a = MerkleTree.leafHash([1]), b = MerkleTree.leafHash([2]), c = MerkleTree.leafHash([3])
        #expect(MerkleTree.root([a, b][...]) == Array(SHA256.hash(data: [1] + a + b)))
        // Three leaves split 2 + 1.
        #expect(MerkleTree.root([a, b, c][...]) == MerkleTree.nodeHash(MerkleTree.nodeHash(a, b), c))
    }

    @Test("all audit paths verify; tampered ones do not (property)")
    func proofs() async {
        await propertyCheck(count: 40, input: Gen.int(in: 1...700)) { n in
            let ls = leaves(n)
            let root = MerkleTree.root(ls[...])
            for m in Set([0, n - 1, n / 2, (n * 7) / 11]) {
                let path = MerkleTree.inclusionProof(index: m, in: 0..<n) { MerkleTree.root(ls[$0]) }
                #expect(MerkleTree.verifyInclusion(leaf: ls[m], index: m, size: n, proof: path, root: root))
                #expect(path.count <= 11)
                if !path.isEmpty {
                    var bad = path
                    bad[bad.count / 2][0] ^= 1
                    #expect(!MerkleTree.verifyInclusion(leaf: ls[m], index: m, size: n, proof: bad, root: root))
                }
                if n > 1 {
                    #expect(!MerkleTree.verifyInclusion(leaf: ls[m], index: (m + 1) % n, size: n, proof: path, root: root))
                }
            }
        }
    }

    @Test("roots through tiles equal roots from leaves")
    func tiles() {
        let ls = leaves(1000)
        let tiles = stride(from: 0, to: 768, by: 256).map { MerkleTree.root(ls[$0..<$0 + 256]) }
        for n in [256, 300, 512, 768, 999, 1000] {
            let viaTiles = MerkleTree.root(of: 0..<n, leaf: { ls[$0] }, subtree: { r in
                guard r.count >= 256, r.count & (r.count - 1) == 0, r.lowerBound % 256 == 0, r.upperBound <= 768 else { return nil }
                return MerkleTree.root(tiles[(r.lowerBound / 256)..<(r.upperBound / 256)])
            })
            #expect(viaTiles == MerkleTree.root(ls[0..<n]))
        }
    }
}
