import Crypto
import Foundation
import Glibc
import StasisIO

/// The key that wraps a store's data keys. It never seals data itself, so replacing it
/// (`stasis key rotate`) re-wraps a few data keys and rewrites no pack.
///
/// It lives in `keys/master.key` (64 hex digits, mode 0600, refused when group or others may
/// read it), or in the environment variable `STASIS_MASTER_KEY` for operators who keep keys in a
/// secret manager; the environment wins when both are there.
public struct MasterKey: Sendable {
    let key: SymmetricKey
    /// Where it came from, for messages: a path, or the environment variable's name.
    public let source: String

    public static let environmentVariable = "STASIS_MASTER_KEY"

    static func path(_ layout: StoreLayout) -> String { layout.keysDirectory + "/master.key" }
    /// A rotation's new key, written before the catalog re-wraps the data keys under it (so
    /// that a crash in between leaves a key that opens them).
    static func pendingPath(_ layout: StoreLayout) -> String { layout.keysDirectory + "/master.key.next" }

    static func generate(source: String) -> MasterKey { MasterKey(key: SymmetricKey(size: .bits256), source: source) }

    init(key: SymmetricKey, source: String) { self.key = key; self.source = source }

    /// Parses 64 hex digits (surrounding whitespace allowed).
    public init(hex: String, source: String) throws(StoreError) {
        let trimmed = hex.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = StoreKey.bytes(fromHex: trimmed), bytes.count == 32 else {
            throw .encryption(subject: source, message: "a master key is 64 hex digits (32 bytes); this is not one")
        }
        self.init(key: SymmetricKey(data: bytes), source: source)
    }

    public var hex: String { key.withUnsafeBytes { StoreKey.hex($0) } }

    /// A short public name of the key (not a hash of it alone: a keyed derivation, so that the
    /// fingerprint gives nothing to a search for the key).
    public var fingerprint: String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("stasis master key fingerprint".utf8), using: key)
        return StoreKey.hex(Array(mac).prefix(8))
    }

    /// The key from the environment, or from `keys/master.key`; nil when neither has one.
    static func load(_ layout: StoreLayout, environment: [String: String]) throws(StoreError) -> MasterKey? {
        if let value = environment[environmentVariable], !value.isEmpty {
            return try MasterKey(hex: value, source: environmentVariable)
        }
        let path = path(layout)
        guard FileSystem.exists(path) else { return nil }
        return try load(path: path)
    }

    /// Reads a key file, refusing one that group or others may read.
    public static func load(path: String) throws(StoreError) -> MasterKey {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw .encryption(subject: path, message: "cannot read the master key file: \(Errno.current)")
        }
        guard st.st_mode & 0o077 == 0 else {
            throw .encryption(subject: path, message: "the master key file can be read by others (mode \(String(st.st_mode & 0o777, radix: 8))): run `chmod 600 \(path)`, and consider the key exposed")
        }
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path) } catch {
            throw .encryption(subject: path, message: "cannot read the master key file: \(error)")
        }
        return try MasterKey(hex: String(decoding: bytes, as: UTF8.self), source: path)
    }

    /// Writes the key as a new 0600 file, durably.
    func write(to path: String) throws(StoreError) {
        try StoreError.wrap { () throws(IOError) in
            try FileSystem.writeFileAtomically(path, bytes: Array((hex + "\n").utf8), permissions: 0o600)
        }
    }

    private static func aad(_ id: UInt32) -> [UInt8] {
        var w = LittleEndianWriter(capacity: 24)
        w.raw(Array("stasis data key".utf8))
        w.u32(id)
        return w.bytes
    }

    /// nonce ‖ AES-GCM(data key) ‖ tag, bound to the key's number.
    func wrap(_ dataKey: SymmetricKey, id: UInt32) -> [UInt8] {
        let nonce = SealNonce.random()
        let box = try! AES.GCM.seal(dataKey.withUnsafeBytes { Array($0) }, using: key,
                                    nonce: try! AES.GCM.Nonce(data: nonce.bytes), authenticating: Self.aad(id))
        return nonce.bytes + Array(box.ciphertext) + Array(box.tag)
    }

    func unwrap(_ wrapped: [UInt8], id: UInt32) throws(StoreError) -> SymmetricKey {
        guard wrapped.count == SealNonce.byteCount + 32 + StoreCipher.tagSize,
              let box = try? AES.GCM.SealedBox(combined: wrapped),
              let raw = try? AES.GCM.open(box, using: key, authenticating: Self.aad(id)) else {
            throw .encryption(subject: source, message: "this master key does not open the store's data key \(id): it is the wrong key for this store (or the catalog's data_keys row was changed); use the key this store was created or last rotated with")
        }
        return SymmetricKey(data: raw)
    }
}
