/// A write-once object (an image manifest) sealed whole: a 16-byte header, then the nonce,
/// ciphertext and tag of AES-256-GCM over the object's plain bytes (Formats/encryption.md).
///
///     "STASSEAL" u16 version=1 u16 kind u32 dataKey | nonce[12] | ciphertext | tag[16]
///
/// The header and the object's name are authenticated with it: a sealed manifest cannot be
/// passed off under another image's name.
enum SealedObject {
    static let magic: StaticString = "STASSEAL"
    static let version: UInt16 = 1
    static let headerSize = 16

    enum Kind: UInt16 {
        case imageManifest = 1
    }

    static func isSealed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 8 && Array(bytes[0..<8]) == Array("STASSEAL".utf8)
    }

    private static func header(kind: Kind, keyID: UInt32) -> [UInt8] {
        var w = LittleEndianWriter(capacity: headerSize)
        w.ascii(magic)
        w.u16(version)
        w.u16(kind.rawValue)
        w.u32(keyID)
        return w.bytes
    }

    static func seal(_ plain: [UInt8], kind: Kind, name: String, cipher: StoreCipher) -> [UInt8] {
        let head = header(kind: kind, keyID: cipher.currentKeyID)
        return head + cipher.sealWithNonce(plain, authenticating: head + Array(name.utf8))
    }

    /// Opens a sealed object; `subject` names it in errors.
    static func open(_ sealed: [UInt8], kind: Kind, name: String, cipher: StoreCipher, subject: String) throws(StoreError) -> [UInt8] {
        guard isSealed(sealed), sealed.count >= headerSize else {
            throw .encryption(subject: subject, message: "it is not sealed, but every object of this encrypted store is: it was replaced; restore it from a copy")
        }
        let head = Array(sealed[0..<headerSize])
        let version = UInt16(head[8]) | UInt16(head[9]) << 8
        let rawKind = UInt16(head[10]) | UInt16(head[11]) << 8
        let keyID = UInt32(head[12]) | UInt32(head[13]) << 8 | UInt32(head[14]) << 16 | UInt32(head[15]) << 24
        guard version == Self.version else {
            throw .encryption(subject: subject, message: "sealed-object version \(version) is not one this stasis reads (\(Self.version)); upgrade stasis")
        }
        guard rawKind == kind.rawValue else {
            throw .encryption(subject: subject, message: "it is sealed as object kind \(rawKind), not \(kind.rawValue): it was swapped")
        }
        return try cipher.openWithNonce(Array(sealed[headerSize...]), keyID: keyID, authenticating: head + Array(name.utf8), subject: subject)
    }
}
