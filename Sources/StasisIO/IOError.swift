/// A failed system call, with the path it was about, so that a message can name the file.
public struct IOError: Error, Sendable, CustomStringConvertible {
    public enum Operation: String, Sendable {
        case open, close, read, write, seek, sync, truncate, stat, rename, unlink, mkdir, lock, list, punchHole
    }
    public let operation: Operation
    public let path: String
    public let errno: Errno

    public init(_ operation: Operation, path: String, errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        "cannot \(operation.verb) '\(path)': \(errno)\(hint)"
    }

    private var hint: String {
        switch errno.rawValue {
        case Errno.noSpace.rawValue: return " — free space on that file system and try again"
        case Errno.noEntry.rawValue: return ""
        case Errno.permissionDenied.rawValue: return " — check the file's permissions"
        default: return ""
        }
    }
}

extension IOError.Operation {
    var verb: String {
        switch self {
        case .open: "open"
        case .close: "close"
        case .read: "read"
        case .write: "write"
        case .seek: "seek in"
        case .sync: "sync"
        case .truncate: "resize"
        case .stat: "stat"
        case .rename: "rename"
        case .unlink: "remove"
        case .mkdir: "create directory"
        case .lock: "lock"
        case .list: "list"
        case .punchHole: "punch a hole in"
        }
    }
}
