import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension UnixSocket {
    /// A listening Unix stream socket at `path` (owner-only: 0600), close-on-exec, for QEMU to
    /// serve on once handed over. Refuses to replace anything already at `path`.
    static func listen(at path: String) throws(SandboxError) -> Int32 {
        var addr = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io("socket for \(path)", errno) }
        // The socket file is created with the process's umask: make it owner-only from the start.
        let previous = umask(0o177)
        let bound = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previous)
        guard bound == 0, Glibc.listen(fd, 8) == 0 else {
            let e = errno
            close(fd)
            throw .io("listen on \(path)", e)
        }
        return fd
    }
}
