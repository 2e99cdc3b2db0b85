/// Constants of the pack format, version 1 (Formats/pack.md).
///
///     header   "STASPACK" u16 version u16 flags u32 reserved                 16 bytes
///     payloads each chunk's stored bytes, back to back
///     entries  N × (id[32] u32 rawLength u32 storedLength u8 encoding [3]0)  44 bytes each
///     trailer  u64 entriesOffset u32 N u16 version u16 0 sha256(entries)[32] "STASPEND"  56 bytes
///
/// A pack is self-describing: its trailer and entries are all that `repair --reindex` needs.
public enum PackFormat {
    public static let version: UInt16 = 1
    static let headerMagic: StaticString = "STASPACK"
    static let trailerMagic: StaticString = "STASPEND"
    public static let headerSize = 16
    public static let entrySize = 44
    public static let trailerSize = 56
    /// Largest raw chunk a reader accepts (FastCDC's ceiling); larger is corruption.
    public static let maxChunkLength = 16 << 20
    /// Packs are sealed once they reach this many bytes.
    public static let defaultTargetSize = 32 << 20

    /// The header every version-1 pack starts with.
    static var header: [UInt8] {
        var w = LittleEndianWriter(capacity: headerSize)
        w.ascii(headerMagic)
        w.u16(version)
        w.u16(0)
        w.u32(0)
        return w.bytes
    }
}
