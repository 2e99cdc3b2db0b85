import CFUSE
#if canImport(Glibc)
import Glibc
#endif

/// A FUSE connection mounted over one regular file, and the loop that serves it.
///
/// Mounted by the process itself (it runs as root: no fusermount, no libfuse). `allow_other`
/// because QEMU runs as the sandbox's own unprivileged user and reopens the file through
/// `/proc/self/fd/N`: without it the kernel refuses every process but the mounter's user.
/// `default_permissions` so that the kernel, not this code, checks the owner and mode that
/// SETATTR set (the mounted file is handed to QEMU's user like the file it replaces).
public final class FUSEMount: Sendable {
    public let path: String
    let device: Int32

    /// Mounts over `path`, which must be an existing regular file.
    public init(over path: String) throws(FUSEMountError) {
        let fd = open("/dev/fuse", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .open(errno) }
        let options = "fd=\(fd),rootmode=100000,user_id=0,group_id=0,allow_other,default_permissions,max_read=\(FUSEFileServer.maxWrite)"
        guard stasis_fuse_mount(path, options) == 0 else {
            let e = errno
            close(fd)
            throw .mount(path: path, errno: e)
        }
        self.path = path
        self.device = fd
    }

    /// Serves requests until the file is unmounted (or the connection aborted). Errors of the
    /// device itself end the loop with that errno.
    public func serve(_ server: FUSEFileServer) -> Int32? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FUSEFileServer.bufferSize, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            let n = read(device, buffer.baseAddress, buffer.count)
            if n < 0 {
                switch errno {
                case EINTR, EAGAIN, ENOENT: continue     // ENOENT: the request was interrupted
                case ENODEV: return nil                  // unmounted
                default: return errno
                }
            }
            guard let reply = server.respond(to: UnsafeRawBufferPointer(rebasing: buffer[0..<n])) else { continue }
            // ENOENT: the kernel gave up on the request meanwhile; nothing waits for the answer.
            _ = reply.withUnsafeBytes { write(device, $0.baseAddress, $0.count) }
        }
    }

    /// Detaches the mount: the loop ends, processes that hold the file open keep their pages.
    public static func unmount(_ path: String) -> Int32? {
        stasis_fuse_unmount(path, 1) == 0 ? nil : errno
    }

    deinit { close(device) }
}

public enum FUSEMountError: Error, Sendable, CustomStringConvertible {
    case open(Int32)
    case mount(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .open(let e): return "cannot open /dev/fuse: \(String(cString: strerror(e))) (load the fuse module; a lazy restore needs it, `--eager` does not)"
        case .mount(let path, let e): return "cannot mount the lazy memory file over \(path): \(String(cString: strerror(e))) (a lazy restore needs root and FUSE; `--eager` does not)"
        }
    }
}
