/// Constants of the pack format (Formats/pack.md). Writers write version 2; readers read 1 and 2.
///
///     header   "STASPACK" u16 version u16 flags u32 dataKey                      16 bytes
///     frames   each frame's stored bytes, back to back (v1: each chunk's)
///     table    v2: the frame and chunk table, sealed when the pack is encrypted
///              v1: N × (id[32] u32 rawLength u32 storedLength u8 encoding [3]0)
///     trailer  u64 tableOffset u32 tableLength u16 version u16 flags sha256(table)[32] "STASPEND"  56 bytes
///
/// A pack is self-describing: its trailer and table are all that `repair --reindex` needs (and,
/// for an encrypted pack, the store's data key).
public enum PackFormat {
    /// What writers write.
    public static let version: UInt16 = 2
    public static let readableVersions: ClosedRange<UInt16> = 1...2
    static let headerMagic: StaticString = "STASPACK"
    static let trailerMagic: StaticString = "STASPEND"
    public static let headerSize = 16
    public static let trailerSize = 56
    /// Version 1: one entry per chunk, each chunk its own frame.
    public static let v1EntrySize = 44
    /// Version 2: frame records and chunk entries.
    public static let frameRecordSize = 24
    public static let entrySize = 40
    /// Largest raw chunk a reader accepts (FastCDC's ceiling); larger is corruption.
    public static let maxChunkLength = 16 << 20
    /// Largest raw frame: a frame holds chunks up to the frame target, or one larger chunk.
    public static let maxFrameLength = 16 << 20
    /// Frames are sealed once they hold this many raw bytes (see `LZ4Block` for the measurement).
    public static let defaultFrameSize = 128 << 10
    /// Packs are sealed once they reach this many bytes.
    public static let defaultTargetSize = 32 << 20

    /// Header flag: frames and table are sealed with AES-256-GCM under the header's data key.
    public static let encryptedFlag: UInt16 = 1

    /// The 16 bytes a pack starts with.
    public struct Header: Sendable, Equatable {
        public var version: UInt16
        public var flags: UInt16
        /// The data key that sealed the pack (0 when it is not encrypted).
        public var keyID: UInt32

        public var encrypted: Bool { flags & PackFormat.encryptedFlag != 0 }

        public static let v1 = Header(version: 1, flags: 0, keyID: 0)

        public init(version: UInt16, flags: UInt16, keyID: UInt32) {
            self.version = version; self.flags = flags; self.keyID = keyID
        }

        /// A new pack's header: sealed under the cipher's current key, or plain.
        init(cipher: StoreCipher?) {
            self.init(version: PackFormat.version, flags: cipher == nil ? 0 : PackFormat.encryptedFlag, keyID: cipher?.currentKeyID ?? 0)
        }

        public var bytes: [UInt8] {
            var w = LittleEndianWriter(capacity: PackFormat.headerSize)
            w.ascii(PackFormat.headerMagic)
            w.u16(version)
            w.u16(flags)
            w.u32(keyID)
            return w.bytes
        }

        /// Parses and checks a header; `pack` names it in errors.
        static func parse(_ bytes: [UInt8], pack: String) throws(StoreError) -> Header {
            guard bytes.count == PackFormat.headerSize, Array(bytes.prefix(8)) == Array("STASPACK".utf8) else {
                throw .corruptPack(pack: pack, reason: "header is not a Stasis pack header")
            }
            let version = UInt16(bytes[8]) | UInt16(bytes[9]) << 8
            let flags = UInt16(bytes[10]) | UInt16(bytes[11]) << 8
            let keyID = UInt32(bytes[12]) | UInt32(bytes[13]) << 8 | UInt32(bytes[14]) << 16 | UInt32(bytes[15]) << 24
            guard version <= PackFormat.version else { throw .newerPack(pack: pack, version: version, flags: flags) }
            guard PackFormat.readableVersions.contains(version) else {
                throw .corruptPack(pack: pack, reason: "pack format version \(version) does not exist")
            }
            if version == 1 {
                guard flags == 0, keyID == 0 else { throw .corruptPack(pack: pack, reason: "a version-1 header has non-zero flags or reserved bytes") }
            } else {
                guard flags & ~PackFormat.encryptedFlag == 0 else { throw .newerPack(pack: pack, version: version, flags: flags) }
                guard (keyID != 0) == (flags & PackFormat.encryptedFlag != 0) else {
                    throw .corruptPack(pack: pack, reason: "header names data key \(keyID) but its encrypted flag is \(flags & 1)")
                }
            }
            return Header(version: version, flags: flags, keyID: keyID)
        }
    }
}
