import Crypto
import Foundation

/// SHA-256 of raw buffers. swift-crypto uses BoringSSL's SHA-NI code here: measured at the same
/// speed as OpenSSL (see Tools/bench `stasis-bench hash`), so no second crypto library is linked.
public enum ChunkHasher {
    @inline(__always)
    public static func id(of bytes: UnsafeRawBufferPointer) -> ChunkID {
        let digest = SHA256.hash(data: bytes)
        return digest.withUnsafeBytes { ChunkID(bytes: $0) }
    }

    public static func id(of bytes: [UInt8]) -> ChunkID {
        bytes.withUnsafeBytes { id(of: $0) }
    }
}
