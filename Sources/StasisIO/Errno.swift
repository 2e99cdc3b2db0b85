#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A typed POSIX error number.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    public static var current: Errno { Errno(rawValue: errno) }

    public static let interrupted = Errno(rawValue: EINTR)
    public static let noSpace = Errno(rawValue: ENOSPC)
    public static let ioError = Errno(rawValue: EIO)
    public static let noEntry = Errno(rawValue: ENOENT)
    public static let exists = Errno(rawValue: EEXIST)
    public static let permissionDenied = Errno(rawValue: EACCES)
    public static let wouldBlock = Errno(rawValue: EWOULDBLOCK)
    public static let invalidArgument = Errno(rawValue: EINVAL)
    public static let isDirectory = Errno(rawValue: EISDIR)
    public static let noData = Errno(rawValue: ENXIO)

    /// The symbolic name (`ENOSPC`) where known; used by the fault-injection seam too.
    public var name: String {
        Errno.names.first { $0.value == rawValue }?.key ?? "E\(rawValue)"
    }

    public init?(name: String) {
        guard let value = Errno.names[name.uppercased()] else { return nil }
        self.rawValue = value
    }

    public var description: String {
        "\(String(cString: strerror(rawValue))) (\(name))"
    }

    private static let names: [String: Int32] = [
        "EINTR": EINTR, "ENOSPC": ENOSPC, "EIO": EIO, "ENOENT": ENOENT, "EEXIST": EEXIST,
        "EACCES": EACCES, "EPERM": EPERM, "EAGAIN": EAGAIN, "EINVAL": EINVAL, "EISDIR": EISDIR,
        "ENOTDIR": ENOTDIR, "EROFS": EROFS, "EDQUOT": EDQUOT, "EMFILE": EMFILE, "ENXIO": ENXIO,
        "EFBIG": EFBIG, "EBADF": EBADF,
    ]
}
