import Crypto
import Foundation
import StasisIO

/// The store's Ed25519 key, created by `stasis init`: it signs checkpoint records (and so the
/// history tree heads they carry). The private key is `keys/store.ed25519` (32 raw bytes, mode
/// 0600); the public key is in the catalog (`store_meta.public_key`) and in every bundle.
public struct StoreKey: Sendable {
    public let privateKey: Curve25519.Signing.PrivateKey

    public var publicKey: Curve25519.Signing.PublicKey { privateKey.publicKey }
    public var publicKeyHex: String { Self.hex(publicKey.rawRepresentation) }

    static func path(_ layout: StoreLayout) -> String { layout.root + "/keys/store.ed25519" }

    /// Stores a key (a new one unless given: a host joining a fleet store brings the store's);
    /// returns it.
    static func create(_ layout: StoreLayout, key: Curve25519.Signing.PrivateKey = .init()) throws(StoreError) -> StoreKey {
        let path = Self.path(layout)
        try StoreError.wrap { () throws(IOError) in
            try FileSystem.createDirectory(layout.root + "/keys", permissions: 0o700)
            let fd = try FileDescriptor.open(path, .createExclusive, permissions: 0o600)
            defer { fd.close() }
            try Array(key.rawRepresentation).withRawBytes { (b) throws(IOError) in try fd.write(b, at: 0) }
            try fd.sync()
        }
        return StoreKey(privateKey: key)
    }

    /// Loads the store's key.
    public static func load(_ layout: StoreLayout) throws(StoreError) -> StoreKey {
        try load(path: path(layout))
    }

    /// Loads a key file (32 raw bytes).
    public static func load(path: String) throws(StoreError) -> StoreKey {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path) } catch {
            throw .invalidArgument(field: "store key", message: "cannot read \(path): \(error.errno); the store's signing key is missing or unreadable")
        }
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes) else {
            throw .invalidArgument(field: "store key", message: "\(path) is not a 32-byte Ed25519 key")
        }
        return StoreKey(privateKey: key)
    }

    public func sign(_ message: [UInt8]) throws(StoreError) -> [UInt8] {
        do { return Array(try privateKey.signature(for: message)) } catch {
            throw .invalidArgument(field: "store key", message: "signing failed: \(error)")
        }
    }

    /// Checks a signature against a public key given as 64 hex digits.
    public static func verify(signature: [UInt8], message: [UInt8], publicKeyHex: String) -> Bool {
        guard let raw = bytes(fromHex: publicKeyHex),
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    public static func bytes(fromHex hex: String) -> [UInt8]? {
        let utf8 = Array(hex.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = Self.nibble(utf8[i]), let lo = Self.nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
