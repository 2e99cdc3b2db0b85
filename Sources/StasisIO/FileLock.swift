#if canImport(Glibc)
import Glibc
#endif

/// An advisory whole-file lock (flock) that several processes use to keep writers and the garbage
/// collector apart. Released by `unlock` or when the process dies, so a SIGKILL never leaves it held.
public final class FileLock: Sendable {
    public enum Kind: Sendable { case shared, exclusive }
    private let fd: FileDescriptor

    /// Blocks until the lock is granted (or throws when `wait` is false and it is held elsewhere).
    public init(path: String, kind: Kind, wait: Bool = true) throws(IOError) {
        fd = try FileDescriptor.open(path, FileDescriptor.Mode(flags: O_RDWR | O_CREAT), permissions: 0o644)
        if let forced = FaultInjection.check(.lock, path: path) { fd.close(); throw IOError(.lock, path: path, errno: forced) }
        let op = (kind == .shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB)
        do {
            _ = try retryingOnInterrupt(.lock, path) { flock(fd.rawValue, op) }
        } catch {
            fd.close()
            throw error
        }
    }

    public func unlock() {
        _ = flock(fd.rawValue, LOCK_UN)
        fd.close()
    }
}
