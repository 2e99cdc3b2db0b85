import StasisExt4

/// Why `SessionStore.readFile(atCheckpoint:…)` could not give a file's bytes; every message
/// names the checkpoint, the disk and the path.
public enum CheckpointFileError: Error, Sendable, CustomStringConvertible {
    /// The checkpoint is unknown, or does not check out (it must not be believed).
    case checkpoint(CheckpointVerificationError)
    /// The store could not be read.
    case history(HistoryError)
    /// `C:/path` was not of that shape, or the path climbs out of the image's root.
    case badPath(String, reason: String)
    /// The checkpoint holds no disk image, or several and `--disk` named none (or a wrong one).
    case disk(checkpoint: String, reason: String, disks: [String])
    /// The disk is not an ext4 file system, or libext2fs could not read it.
    case unreadableDisk(checkpoint: String, disk: String, cause: Ext4Error)
    case notFound(checkpoint: String, disk: String, path: String, hint: String)
    case notARegularFile(checkpoint: String, disk: String, path: String, kind: String)

    public var description: String {
        switch self {
        case .checkpoint(let e): return e.description
        case .history(let e): return e.description
        case .badPath(let path, let reason): return "'\(path)': \(reason)"
        case .disk(let c, let reason, let disks):
            return "checkpoint \(c) \(reason)" + (disks.isEmpty ? "" : " (its disks: \(disks.joined(separator: ", ")))")
        case .unreadableDisk(let c, let disk, let cause):
            if cause.cause == .notExt4 { return "disk \(disk) of checkpoint \(c) is not an ext4 file system: `checkpoint cat` reads files of ext4 disks only" }
            return "disk \(disk) of checkpoint \(c) cannot be read: \(cause.description)"
        case .notFound(let c, let disk, let path, let hint):
            return "'\(path)' does not exist on disk \(disk) of checkpoint \(c)\(hint)"
        case .notARegularFile(let c, let disk, let path, let kind):
            return "'\(path)' on disk \(disk) of checkpoint \(c) is a \(kind), not a regular file: name a file"
        }
    }
}
