import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension UnixSocket {
    /// A listening Unix stream socket at `path` (owner-only: 0600), close-on-exec, for QEMU to
    /// serve on once handed over. Refuses to replace anything already at `path`.
    static func listen(at path: String) throws(SandboxError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io("socket for \(path)", errno) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw .badArgument("socket path '\(path)' is longer than the \(MemoryLayout.size(ofValue: addr.sun_path) - 1) bytes a Unix socket allows: use a shorter sandbox directory")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
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
