import Crypto
import CryptoExtras
import Foundation
import StasisStore

/// The encryption of a sealed bundle (container version 2, Formats/bundle.md): a key derived
/// from a passphrase with scrypt and a random salt, so every bundle has a key of its own; every
/// entry but `bundle.seal` encrypted with AES-256-GCM in segments, so that a reader can stream
/// the pack and read one chunk without decrypting the rest, and stored under a keyed hash of its
/// name (`storedName`).
///
///     entry data  = prefix[8] ‖ segment 0 ‖ segment 1 ‖ … ‖ final segment
///     segment i   = AES-256-GCM(key, nonce = prefix ‖ u32be(i), plain) ‖ tag[16]
///     AAD         = "stasis-bundle-entry" 0x00 ‖ entry name ‖ 0x00 ‖ u8 final
///
/// Every segment holds `segmentSize` plain bytes but the final one, which holds fewer (maybe
/// none) and is marked in its AAD: a truncated, reordered or moved segment fails its tag.
struct BundleSeal: Sendable {
    static let entryName = "bundle.seal"
    static let segmentSize = 64 << 10
    static let tagSize = 16
    static let prefixSize = 8
    /// scrypt's cost: 2^15 × 8 × 128 bytes = 32 MiB and about 0.1 s here, as age and restic use.
    static let defaultCost = (n: 1 << 15, r: 8, p: 1)

    let key: SymmetricKey
    let salt: [UInt8]
    let cost: (n: Int, r: Int, p: Int)

    /// A new seal for a bundle being written.
    static func create(passphrase: [UInt8]) throws(HistoryError) -> BundleSeal {
        var salt = [UInt8](repeating: 0, count: 16)
        var rng = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = rng.next() }
        return try BundleSeal(passphrase: passphrase, salt: salt, cost: defaultCost)
    }

    private init(passphrase: [UInt8], salt: [UInt8], cost: (n: Int, r: Int, p: Int)) throws(HistoryError) {
        guard !passphrase.isEmpty else { throw .badArgument(field: "passphrase", message: "it is empty") }
        do {
            key = try KDF.Scrypt.deriveKey(from: passphrase, salt: salt, outputByteCount: 32,
                                           rounds: cost.n, blockSize: cost.r, parallelism: cost.p)
        } catch {
            throw .badArgument(field: "passphrase", message: "scrypt failed: \(error)")
        }
        self.salt = salt
        self.cost = cost
    }

    /// The plain `bundle.seal` entry: how to derive the key, and a check that tells a wrong
    /// passphrase from damage before anything is decrypted.
    var json: [UInt8] {
        let object: [String: Any] = ["format": "stasis-bundle-seal", "version": 1, "cipher": "aes-256-gcm", "kdf": "scrypt",
                                     "n": cost.n, "r": cost.r, "p": cost.p, "salt": StoreKey.hex(salt), "segment": Self.segmentSize,
                                     "check": StoreKey.hex(check)]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }

    private var check: [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("stasis bundle passphrase check".utf8), using: key).prefix(16))
    }

    /// Opens the seal of a bundle being read; a wrong passphrase is named as such.
    static func open(_ entry: [UInt8], passphrase: [UInt8], path: String) throws(HistoryError) -> BundleSeal {
        func bad(_ m: String) -> HistoryError { .badBundle(path: path, message: "\(entryName): \(m)") }
        guard let o = (try? JSONSerialization.jsonObject(with: Data(entry))) as? [String: Any] else { throw bad("not a JSON object") }
        guard o["format"] as? String == "stasis-bundle-seal", o["version"] as? Int == 1,
              o["cipher"] as? String == "aes-256-gcm", o["kdf"] as? String == "scrypt" else {
            throw bad("not a seal this stasis reads (format stasis-bundle-seal 1, aes-256-gcm, scrypt); upgrade stasis")
        }
        guard o["segment"] as? Int == segmentSize else { throw bad("segment size \(o["segment"] ?? "?") is not \(segmentSize)") }
        guard let n = o["n"] as? Int, let r = o["r"] as? Int, let p = o["p"] as? Int,
              n >= 1 << 10, n <= 1 << 20, n & (n - 1) == 0, (1...32).contains(r), (1...16).contains(p) else {
            throw bad("scrypt cost n, r, p is missing or out of range (n a power of two 2^10…2^20, r 1…32, p 1…16)")
        }
        guard let salt = (o["salt"] as? String).flatMap(StoreKey.bytes(fromHex:)), salt.count >= 16,
              let check = (o["check"] as? String).flatMap(StoreKey.bytes(fromHex:)), check.count == 16 else { throw bad("salt or check is not hex of the right length") }
        let seal = try BundleSeal(passphrase: passphrase, salt: salt, cost: (n, r, p))
        guard seal.check == check else {
            throw .badArgument(field: "passphrase", message: "it is not the passphrase \(path) was encrypted with")
        }
        return seal
    }

    /// The name an entry is stored under: `sealed/` and 32 hex digits of a keyed hash of its
    /// name. Names hold checkpoint, image and blob ids, which are hashes of what the bundle
    /// carries: with the passphrase unknown they must not let anyone confirm a guess of it.
    func storedName(_ name: String) -> String {
        "sealed/" + StoreKey.hex(HMAC<SHA256>.authenticationCode(for: Array("stasis-bundle-entry-name".utf8) + [0] + Array(name.utf8), using: key).prefix(16))
    }

    static func nonce(prefix: [UInt8], index: UInt32) -> [UInt8] {
        prefix + withUnsafeBytes(of: index.bigEndian) { Array($0) }
    }

    static func aad(name: String, final: Bool) -> [UInt8] {
        Array("stasis-bundle-entry".utf8) + [0] + Array(name.utf8) + [0, final ? 1 : 0]
    }

    func seal(_ plain: some DataProtocol, name: String, prefix: [UInt8], index: UInt32, final: Bool) throws(HistoryError) -> [UInt8] {
        do {
            let box = try AES.GCM.seal(plain, using: key, nonce: try AES.GCM.Nonce(data: Self.nonce(prefix: prefix, index: index)),
                                       authenticating: Self.aad(name: name, final: final))
            return Array(box.ciphertext) + Array(box.tag)
        } catch {
            throw .badArgument(field: "bundle", message: "sealing entry '\(name)' failed: \(error)")
        }
    }

    /// One segment's plain bytes; damage, truncation or a move is an error naming the entry.
    func open(_ sealed: ArraySlice<UInt8>, name: String, prefix: [UInt8], index: UInt32, final: Bool, path: String) throws(HistoryError) -> [UInt8] {
        do {
            guard sealed.count >= Self.tagSize else { throw CryptoKitError.incorrectParameterSize }
            let box = try AES.GCM.SealedBox(nonce: try AES.GCM.Nonce(data: Self.nonce(prefix: prefix, index: index)),
                                            ciphertext: sealed.dropLast(Self.tagSize), tag: sealed.suffix(Self.tagSize))
            return Array(try AES.GCM.open(box, using: key, authenticating: Self.aad(name: name, final: final)))
        } catch {
            throw .badBundle(path: path, message: "entry '\(name)' is damaged: segment \(index) does not decrypt (altered, truncated or moved)")
        }
    }

    /// The plain length of a sealed entry of `sealedLength` bytes, or nil if no sequence of
    /// segments has that length.
    static func plainLength(sealedLength: Int64) -> Int64? {
        let body = sealedLength - Int64(prefixSize) - Int64(tagSize)
        guard body >= 0 else { return nil }
        let full = body / Int64(segmentSize + tagSize), rest = body % Int64(segmentSize + tagSize)
        guard rest < Int64(segmentSize) else { return nil }
        return full * Int64(segmentSize) + rest
    }
}
