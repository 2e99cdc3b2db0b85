import CSHA256
import Crypto
import Foundation

/// RFC 6962 Merkle tree hashing (the Certificate Transparency tree): leaf = SHA-256(0x00 ‖ data),
/// node = SHA-256(0x01 ‖ left ‖ right), the root of n leaves splits at the largest power of two
/// below n. Inclusion proofs are the RFC's audit paths; verification follows RFC 9162 §2.1.3.2.
public enum MerkleTree {
    public typealias Hash = [UInt8]

    /// The root of an empty tree: SHA-256 of nothing.
    public static let emptyRoot: Hash = Array(SHA256.hash(data: [UInt8]()))

    public static func leafHash(_ data: UnsafeRawBufferPointer) -> Hash {
        leafDigest(data).withUnsafeBytes { Array($0) }
    }

    /// The leaf hash as a digest value (no allocation: the verify loop's form).
    @inline(__always)
    public static func leafDigest(_ data: UnsafeRawBufferPointer) -> SHA256Digest {
        var h = SHA256()
        withUnsafeBytes(of: UInt8(0)) { h.update(bufferPointer: $0) }
        h.update(bufferPointer: data)
        return h.finalize()
    }

    /// The leaf hash into `out` (32 bytes), through libcrypto: the verify loop's form.
    @inline(__always)
    static func leafHash(_ data: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        withUnsafeBytes(of: UInt8(0)) { prefix in
            stasis_sha256_parts(prefix.baseAddress, 1, data.baseAddress, data.count, nil, 0, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }

    public static func leafHash(_ data: [UInt8]) -> Hash {
        data.withUnsafeBytes { leafHash($0) }
    }

    public static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        var h = SHA256()
        h.update(data: [0x01])
        h.update(data: left)
        h.update(data: right)
        return Array(h.finalize())
    }

    /// Largest power of two strictly below `n` (n ≥ 2).
    @inline(__always)
    static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// Root of a perfect subtree whose leaf hashes are packed back to back (32 bytes each; the
    /// count a power of two), computed level by level in `scratch` without allocating (libcrypto,
    /// `CSHA256`: the verifier computes one such node per event).
    public static func perfectRoot(packed leaves: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer) -> Hash {
        let n = leaves.count / 32
        precondition(n > 0 && n & (n - 1) == 0 && scratch.count >= leaves.count)
        scratch.copyMemory(from: leaves)
        stasis_merkle_perfect_root(scratch.baseAddress!.assumingMemoryBound(to: UInt8.self), n)
        return Array(scratch[0..<32])
    }

    /// Root of the given leaf hashes.
    public static func root(_ leaves: ArraySlice<Hash>) -> Hash {
        switch leaves.count {
        case 0: return emptyRoot
        case 1: return leaves.first!
        default:
            let k = split(leaves.count)
            let lo = leaves.startIndex
            return nodeHash(root(leaves[lo..<lo + k]), root(leaves[(lo + k)...]))
        }
    }

    /// Root of the leaves `range`, through `subtree` for any range the caller can answer faster
    /// (complete tiles); `subtree` returns nil to have the range split further.
    public static func root(of range: Range<Int>, leaf: (Int) throws -> Hash,
                            subtree: (Range<Int>) throws -> Hash?) rethrows -> Hash {
        if range.isEmpty { return emptyRoot }
        if range.count == 1 { return try leaf(range.lowerBound) }
        if let known = try subtree(range) { return known }
        let k = split(range.count)
        let mid = range.lowerBound + k
        return nodeHash(try root(of: range.lowerBound..<mid, leaf: leaf, subtree: subtree),
                        try root(of: mid..<range.upperBound, leaf: leaf, subtree: subtree))
    }

    /// The audit path of leaf `index` in the tree of the leaves `range` (RFC 6962 §2.1.1), given
    /// a function that returns the root of any sub-range.
    public static func inclusionProof(index: Int, in range: Range<Int>, root subRoot: (Range<Int>) throws -> Hash) rethrows -> [Hash] {
        guard range.count > 1 else { return [] }
        let k = split(range.count)
        let mid = range.lowerBound + k
        if index < mid {
            return try inclusionProof(index: index, in: range.lowerBound..<mid, root: subRoot) + [try subRoot(mid..<range.upperBound)]
        } else {
            return try inclusionProof(index: index, in: mid..<range.upperBound, root: subRoot) + [try subRoot(range.lowerBound..<mid)]
        }
    }

    /// Checks an audit path (RFC 9162 §2.1.3.2).
    public static func verifyInclusion(leaf: Hash, index: Int, size: Int, proof: [Hash], root: Hash) -> Bool {
        guard index >= 0, index < size else { return false }
        var fn = index, sn = size - 1
        var r = leaf
        for p in proof {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1; sn >>= 1
        }
        return sn == 0 && r == root
    }
}
