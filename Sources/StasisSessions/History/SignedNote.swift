import Crypto
import Foundation
import StasisStore

/// A history's tree head as a C2SP signed note (the `tlog-checkpoint` format transparency logs
/// use), so that tools built for those logs can check it:
///
///     stasis-session/<session id>          origin: names the log (one per session)
///     <tree size>                          decimal
///     <root hash>                          base64 of the 32-byte RFC 6962 root
///                                          (blank line)
///     — <key name> <base64(key id ‖ Ed25519 signature of the three lines above)>
///
/// The key name is `stasis-store-` and the first 16 hex digits of the store's public key; the key
/// id is the first 4 bytes of SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key), and the verifier key
/// `name+<key id hex>+<base64(0x01 ‖ public key)>` (`verifierKey`) is what a checker pins.
public struct SignedNote: Sendable, Codable, Equatable {
    public var origin: String
    public var size: Int64
    public var root: String
    public var keyName: String
    public var verifierKey: String
    public var text: String

    /// Ed25519's algorithm byte in signed-note key ids and verifier keys.
    static let ed25519: UInt8 = 0x01

    static func body(origin: String, size: Int64, root: [UInt8]) -> String {
        "\(origin)\n\(size)\n\(Data(root).base64EncodedString())\n"
    }

    static func keyID(name: String, publicKey: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: Array(name.utf8) + [0x0A, ed25519] + publicKey).prefix(4))
    }

    static func keyName(publicKey: [UInt8]) -> String { "stasis-store-" + StoreKey.hex(publicKey).prefix(16) }

    /// Checks `text` against `verifierKey`: the key id, then the signature over the body. The
    /// parsed head, or nil when the note does not verify.
    public static func verify(_ text: String, verifierKey: String) -> (origin: String, size: Int64, root: [UInt8])? {
        let vkey = verifierKey.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)   // base64 may hold "+"
        guard vkey.count == 3, let raw = Data(base64Encoded: String(vkey[2])), raw.count == 33, raw.first == ed25519,
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw.dropFirst()) else { return nil }
        let name = String(vkey[0])
        guard let split = text.range(of: "\n\n") else { return nil }
        let body = String(text[..<split.lowerBound]) + "\n"
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        guard lines.count == 3, let size = Int64(lines[lines.startIndex + 1]),
              let root = Data(base64Encoded: String(lines[lines.startIndex + 2])), root.count == 32 else { return nil }
        let expectedID = keyID(name: name, publicKey: Array(raw.dropFirst()))
        for line in text[split.upperBound...].split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "\u{2014}", parts[1] == name,
                  let blob = Data(base64Encoded: String(parts[2])), blob.count == 68, Array(blob.prefix(4)) == expectedID else { continue }
            if key.isValidSignature(blob.dropFirst(4), for: Array(body.utf8)) {
                return (String(lines[lines.startIndex]), size, Array(root))
            }
        }
        return nil
    }
}

extension SessionStore {
    /// The tree head of a session's history (at `checkpoint`'s size, or all of it), signed by the
    /// store key as a C2SP signed note. A checkpoint must check out first (`verifiedCheckpoint`):
    /// the note never attests what the store itself does not believe.
    public func signedNote(_ sessionIDOrPrefix: String, checkpoint: String? = nil) throws(HistoryError) -> SignedNote {
        let session = try resolveSession(sessionIDOrPrefix)
        var size: Int64? = nil
        if let checkpoint {
            let c: Checkpoint
            do { c = try verifiedCheckpoint(checkpoint) } catch {
                throw .badArgument(field: "--checkpoint", message: error.description)
            }
            guard c.record.session == session else {
                throw .badArgument(field: "--checkpoint", message: "checkpoint \(c.id) belongs to session \(c.record.session), not \(session)")
            }
            size = c.record.historySize
        }
        let head = try treeHead(session, size: size)
        guard let root = StoreKey.bytes(fromHex: head.root) else { throw .badArgument(field: "root", message: "not hex: \(head.root)") }
        let key = try signingKey()
        let publicKey = Array(key.publicKey.rawRepresentation)
        let name = SignedNote.keyName(publicKey: publicKey)
        let origin = "stasis-session/" + session
        let body = SignedNote.body(origin: origin, size: head.size, root: root)
        let signature = try HistoryError.wrap { () throws(StoreError) in try key.sign(Array(body.utf8)) }
        let id = SignedNote.keyID(name: name, publicKey: publicKey)
        let text = body + "\n\u{2014} \(name) \(Data(id + signature).base64EncodedString())\n"
        let verifierKey = "\(name)+\(StoreKey.hex(id))+\(Data([SignedNote.ed25519] + publicKey).base64EncodedString())"
        return SignedNote(origin: origin, size: head.size, root: head.root, keyName: name, verifierKey: verifierKey, text: text)
    }
}
