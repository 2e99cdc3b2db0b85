/// The bundle container, version 1 (Formats/bundle.md): one file holding named entries, each with
/// its own SHA-256, and a trailer whose digest covers every entry's digest in order.
///
///     header   "STASBNDL" u16 version u16 flags(0) u32 reserved(0)             16 bytes
///     entry    u16 nameLength, name (UTF-8), u64 dataLength, data, sha256(data)[32]
///     trailer  "STASBEND" u32 entryCount sha256(all entry digests)[32]          44 bytes
/// Version 2 is the same container with every entry but `bundle.seal` encrypted (`BundleSeal`).
enum BundleFormat {
    static let version: UInt16 = 1
    static let sealedVersion: UInt16 = 2
    static let headerMagic = Array("STASBNDL".utf8)
    static let trailerMagic = Array("STASBEND".utf8)
    static let headerSize = 16
    static let trailerSize = 44

    /// Entry names: lower-case path segments of [a-z0-9._-], no empty, `.` or `..` segment, no
    /// leading `/`, 255 bytes at most. A name that could escape a directory is refused even though
    /// readers never use names as paths.
    static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 255, !name.hasPrefix("/") else { return false }
        for segment in name.split(separator: "/", omittingEmptySubsequences: false) {
            guard !segment.isEmpty, segment != ".", segment != ".." else { return false }
            guard segment.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0) }) else { return false }
        }
        return true
    }
}
