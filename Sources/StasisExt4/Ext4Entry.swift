/// One name in an ext4 image, as `Ext4Image.walk()` found it: a path and the inode it names.
///
/// Hard links give several entries with the same `inode`. `path` is built from the on-disk name
/// bytes, with invalid UTF-8, "/" and NUL each replaced by U+FFFD, so two distinct hostile names
/// can map to the same path. Paths are compared byte-wise (UTF-8) by this module, never with
/// `String`'s Unicode canonical equivalence, because ext4 names "é" (NFC) and "é" (NFD) are
/// different files.
public struct Ext4Entry: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case file, directory, symlink
        /// Devices, FIFOs, sockets and anything with an unknown type.
        case other
    }

    /// Absolute path inside the image, "/" for the root directory, e.g. "/etc/hostname".
    public var path: String
    public var inode: UInt32
    public var kind: Kind
    /// Length in bytes (i_size); for a symlink, the length of its target.
    public var size: UInt64
    /// i_mode: file type bits and permission bits.
    public var mode: UInt16
    public var uid: UInt32
    public var gid: UInt32
    /// Modification time, seconds since 1970 (ext4's extra epoch bits included).
    public var mtime: Int64
    /// Nanoseconds of the modification time; 0 on inodes without the extra timestamp field.
    public var mtimeNanoseconds: UInt32
    public var linkCount: UInt16
    /// Physical block ranges (in units of the image's block size) holding a regular file's data,
    /// in file order, contiguous runs merged; holes are absent. Empty for other kinds and for
    /// files whose data is stored inside the inode (inline_data feature).
    public var blocks: [Range<UInt64>]
    /// A symbolic link's target (lossily decoded as UTF-8); nil for other kinds.
    public var linkTarget: String?

    public init(path: String, inode: UInt32, kind: Kind, size: UInt64, mode: UInt16, uid: UInt32 = 0,
                gid: UInt32 = 0, mtime: Int64, mtimeNanoseconds: UInt32 = 0, linkCount: UInt16 = 1,
                blocks: [Range<UInt64>] = [], linkTarget: String? = nil) {
        self.path = path
        self.inode = inode
        self.kind = kind
        self.size = size
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.mtimeNanoseconds = mtimeNanoseconds
        self.linkCount = linkCount
        self.blocks = blocks
        self.linkTarget = linkTarget
    }

    /// Field by field, with `path` and `linkTarget` compared as UTF-8 bytes (`String`'s own `==`
    /// would call the NFC and NFD spellings of a name equal).
    public static func == (a: Ext4Entry, b: Ext4Entry) -> Bool {
        a.path.utf8.elementsEqual(b.path.utf8) && a.inode == b.inode && a.kind == b.kind && a.size == b.size
            && a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.mtime == b.mtime
            && a.mtimeNanoseconds == b.mtimeNanoseconds && a.linkCount == b.linkCount && a.blocks == b.blocks
            && a.linkTarget.map { Array($0.utf8) } == b.linkTarget.map { Array($0.utf8) }
    }

    /// The permission bits of `mode` (including set-uid, set-gid and sticky).
    public var permissions: UInt16 { mode & 0o7777 }

    /// How many physical blocks `blocks` covers.
    public var blockCount: UInt64 { blocks.reduce(0) { $0 + UInt64($1.count) } }

    static func kind(ofMode mode: UInt16) -> Kind {
        switch mode & 0o170000 {
        case 0o100000: .file
        case 0o040000: .directory
        case 0o120000: .symlink
        default: .other
        }
    }
}
