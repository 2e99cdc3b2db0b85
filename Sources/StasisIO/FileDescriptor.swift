import CStasisSystem
#if canImport(Glibc)
import Glibc
#endif

/// An open file: a raw descriptor plus the path it was opened from, so that every error can name
/// the file. A value type; the owner closes it exactly once.
public struct FileDescriptor: Sendable {
    public let rawValue: Int32
    public let path: String

    public init(rawValue: Int32, path: String) {
        self.rawValue = rawValue
        self.path = path
    }

    public struct Mode: Sendable {
        public var flags: Int32
        public static let readOnly = Mode(flags: O_RDONLY)
        public static let readWrite = Mode(flags: O_RDWR)
        /// Create or truncate for writing.
        public static let createTruncate = Mode(flags: O_RDWR | O_CREAT | O_TRUNC)
        /// Create a new file; fail with EEXIST if it is there.
        public static let createExclusive = Mode(flags: O_RDWR | O_CREAT | O_EXCL)
        public static let directory = Mode(flags: O_RDONLY | O_DIRECTORY)
    }

    public static func open(_ path: String, _ mode: Mode, permissions: mode_t = 0o644) throws(IOError) -> FileDescriptor {
        if let forced = FaultInjection.check(.open, path: path) { throw IOError(.open, path: path, errno: forced) }
        let fd: Int32 = try retryingOnInterrupt(.open, path) {
            stasis_open(path, mode.flags | O_CLOEXEC, permissions)
        }
        return FileDescriptor(rawValue: fd, path: path)
    }

    public func close() {
        // Linux closes the descriptor even when close(2) reports EINTR: never retry.
        let result = Glibc.close(rawValue)
        // A second close of one descriptor is a bug that hides until the number is reused: then it
        // closes another thread's file. Debug builds (the tests) stop at the first one instead.
        assert(result == 0 || errno != EBADF, "\(path): descriptor \(rawValue) closed twice")
    }

    /// Size in bytes (fstat).
    public func size() throws(IOError) -> Int64 {
        var st = stat()
        guard fstat(rawValue, &st) == 0 else { throw IOError(.stat, path: path, errno: .current) }
        return Int64(st.st_size)
    }

    public func isRegularFile() throws(IOError) -> Bool {
        var st = stat()
        guard fstat(rawValue, &st) == 0 else { throw IOError(.stat, path: path, errno: .current) }
        return (st.st_mode & S_IFMT) == S_IFREG
    }
}

/// Runs a system call that returns -1 and sets errno on failure, retrying on EINTR.
@inline(__always)
func retryingOnInterrupt<T: BinaryInteger>(_ op: IOError.Operation, _ path: String, _ body: () -> T) throws(IOError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let err = Errno.current
        if err == .interrupted { continue }
        throw IOError(op, path: path, errno: err)
    }
}
