import CSHA256
import Crypto

/// The chain hash that links each event to the one before it (Formats/history.md):
/// chain(n) = SHA-256("stasis-chain-v1" ‖ 0x00 ‖ chain(n-1) ‖ leaf(n)), with 32 zero bytes before
/// the first event. The Merkle leaf is RFC 6962's, over the event's stored body.
enum HistoryHashing {
    static let genesis = [UInt8](repeating: 0, count: 32)
    private static let domain = Array("stasis-chain-v1".utf8) + [0]

    /// The same into `out` (32 bytes), through libcrypto: the verify loop's form.
    @inline(__always)
    static func chain(previous: UnsafeRawBufferPointer, leaf: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        domain.withUnsafeBytes { d in
            stasis_sha256_parts(d.baseAddress, d.count, previous.baseAddress, previous.count, leaf.baseAddress, leaf.count,
                                out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// The same, without allocation: previous and leaf as raw bytes, the result as a digest.
    @inline(__always)
    static func chainDigest(previous: UnsafeRawBufferPointer, leaf: UnsafeRawBufferPointer) -> SHA256Digest {
        var h = SHA256()
        domain.withUnsafeBytes { h.update(bufferPointer: $0) }
        h.update(bufferPointer: previous)
        h.update(bufferPointer: leaf)
        return h.finalize()
    }

    static func chain(previous: [UInt8], leaf: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(data: domain)
        h.update(data: previous)
        h.update(data: leaf)
        return Array(h.finalize())
    }

    /// Leaves per stored tile (a complete subtree of the Merkle tree).
    static let tileSize = 256
}
