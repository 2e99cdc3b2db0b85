import CExt2fs

/// A failure to read an ext2/3/4 image, naming the image file, what was being read (inode,
/// directory, file inside the image) and libext2fs' own message.
public struct Ext4Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being done when the failure happened.
    public enum Operation: Sendable, Equatable {
        case open
        case readInode(UInt32)
        case listDirectory(path: String, inode: UInt32)
        case mapBlocks(path: String, inode: UInt32)
        case readLink(path: String, inode: UInt32)
        case readFile(path: String, inode: UInt32)
        /// A bound of `Ext4WalkLimits` or of `Ext4Image.read` was exceeded (no libext2fs code).
        case limit
        /// A caller asked for the bytes of something that is not a regular file.
        case notARegularFile(path: String)
    }

    /// The broad reason, from libext2fs' error code (or from this module's own checks).
    public enum Cause: String, Sendable, Equatable {
        /// The superblock magic is wrong: the file is not an ext2/3/4 file system.
        case notExt4
        /// The image ends before a block it refers to.
        case truncated
        /// The file system uses features or a revision this libext2fs cannot read.
        case unsupported
        /// Inconsistent metadata, a checksum mismatch, or a hostile structure.
        case corrupt
        /// An errno from the host (missing file, permission, memory).
        case system
        /// A limit of this module was exceeded.
        case limitExceeded
        /// Misuse of the API (for instance reading a directory's bytes).
        case invalidRequest
        case other
    }

    /// The image file on the host.
    public let imagePath: String
    public let operation: Operation
    public let cause: Cause
    /// libext2fs' errcode_t (an errno or a com_err code); 0 when this module detected the problem.
    public let code: Int
    /// libext2fs' message for `code`, or this module's explanation.
    public let detail: String

    public init(imagePath: String, operation: Operation, cause: Cause, code: Int, detail: String) {
        self.imagePath = imagePath
        self.operation = operation
        self.cause = cause
        self.code = code
        self.detail = detail
    }

    /// Wraps a non-zero libext2fs error code.
    init(imagePath: String, operation: Operation, code: Int) {
        self.init(imagePath: imagePath, operation: operation, cause: Self.cause(of: code), code: code,
                  detail: Self.message(of: code))
    }

    static func message(of code: Int) -> String {
        guard let text = stasis_ext2_error_message(code) else { return "error \(code)" }
        return String(cString: text)
    }

    static func cause(of code: Int) -> Cause {
        switch stasis_ext2_error_classify(code) {
        case STASIS_EXT2_ERR_NOT_EXT: .notExt4
        case STASIS_EXT2_ERR_SHORT_READ: .truncated
        case STASIS_EXT2_ERR_UNSUPPORTED: .unsupported
        case STASIS_EXT2_ERR_CORRUPT: .corrupt
        case STASIS_EXT2_ERR_SYSTEM: .system
        default: .other
        }
    }

    public var description: String {
        let image = "'\(imagePath)'"
        let what: String
        switch operation {
        case .open:
            switch cause {
            case .notExt4: return "\(image) is not an ext4 file system (bad magic): \(detail)"
            case .truncated: return "\(image) is truncated: \(detail)"
            case .unsupported: return "cannot open \(image): it uses ext4 features this libext2fs cannot read (\(detail))"
            default: return "cannot open \(image) as an ext4 file system: \(detail)"
            }
        case .readInode(let inode): what = "cannot read inode \(inode) of \(image)"
        case .listDirectory(let path, let inode): what = "cannot list directory '\(path)' (inode \(inode)) of \(image)"
        case .mapBlocks(let path, let inode): what = "cannot map the blocks of '\(path)' (inode \(inode)) of \(image)"
        case .readLink(let path, let inode): what = "cannot read the symbolic link '\(path)' (inode \(inode)) of \(image)"
        case .readFile(let path, let inode): what = "cannot read '\(path)' (inode \(inode)) of \(image)"
        case .limit: what = "refusing to read \(image) further"
        case .notARegularFile(let path): what = "cannot read the contents of '\(path)' in \(image)"
        }
        return "\(what): \(detail)\(hint)"
    }

    private var hint: String {
        switch cause {
        case .truncated: " — the image looks truncated"
        case .corrupt: " — the file system is damaged (run `e2fsck -fn` on a copy to see more)"
        default: ""
        }
    }
}
