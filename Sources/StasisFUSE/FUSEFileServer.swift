import CFUSE
#if canImport(Glibc)
import Glibc
#endif

/// Answers the kernel's requests for a file system whose root is one regular file (mounted over
/// a file, not a directory). The kernel caches the file's pages as for any file (no direct I/O),
/// which is what a writable shared mapping needs: QEMU maps it, the guest's stores dirty the
/// page cache, and the kernel writes them back as WRITE requests.
///
/// `respond(to:)` is a pure step (bytes in, reply out) so that it is tested without a mount.
/// Mutable (the agreed version, owner and mode) but used by one thread at a time: the loop that
/// serves the mount, handed to it once.
public final class FUSEFileServer: @unchecked Sendable {
    public let file: any FUSEFile
    /// Owner and mode as the kernel checks them (`default_permissions`): SETATTR may change them,
    /// as a `chown` of the mounted file does, but never the size.
    public private(set) var mode: UInt32
    public private(set) var uid: UInt32
    public private(set) var gid: UInt32
    /// Largest WRITE the kernel may send (negotiated at INIT).
    public static let maxWrite: UInt32 = 1 << 20
    /// A read from `/dev/fuse` must have room for the largest request.
    public static let bufferSize = Int(maxWrite) + 64 * 1024
    /// The protocol version agreed at INIT (nil before).
    public private(set) var minorVersion: UInt32?

    public init(file: any FUSEFile, mode: UInt32 = 0o600, uid: UInt32 = 0, gid: UInt32 = 0) {
        self.file = file
        self.mode = mode
        self.uid = uid
        self.gid = gid
    }

    /// The reply to one request (nil for those that take none). A malformed request is answered
    /// EIO when its id could be read.
    public func respond(to bytes: UnsafeRawBufferPointer) -> [UInt8]? {
        let request: FUSERequest
        do { request = try FUSERequest.decode(bytes) } catch {
            guard bytes.count >= FUSERequest.headerSize else { return nil }
            return FUSEReply.error(bytes.loadUnaligned(as: fuse_in_header.self).unique, EIO)
        }
        guard request.needsReply else { return nil }
        return respond(to: request, bytes)
    }

    func respond(to request: FUSERequest, _ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        let unique = request.unique
        if minorVersion == nil, request.operation != .destroy {
            guard case .initialize = request.operation else { return FUSEReply.error(unique, EIO) }
        }
        switch request.operation {
        case .initialize(let major, let minor, let readahead, _):
            // A kernel newer in major version is asked to fall back by naming ours.
            guard major == UInt32(FUSE_KERNEL_VERSION) else {
                var out = fuse_init_out()
                out.major = UInt32(FUSE_KERNEL_VERSION)
                return FUSEReply.value(unique, out)
            }
            var out = fuse_init_out()
            out.major = UInt32(FUSE_KERNEL_VERSION)
            out.minor = min(minor, UInt32(FUSE_KERNEL_MINOR_VERSION))
            out.max_readahead = readahead
            out.flags = UInt32(FUSE_BIG_WRITES) | UInt32(FUSE_MAX_PAGES)
            out.max_write = Self.maxWrite
            out.max_pages = UInt16(Self.maxWrite / 4096)
            out.time_gran = 1
            minorVersion = out.minor
            return FUSEReply.value(unique, out)
        case .getattr:
            return FUSEReply.value(unique, attributes())
        case .setattr(let valid, let size, let mode, let uid, let gid):
            if valid & UInt32(FATTR_SIZE) != 0, size != file.size { return FUSEReply.error(unique, EPERM) }
            if valid & UInt32(FATTR_MODE) != 0 { self.mode = mode & 0o7777 }
            if valid & UInt32(FATTR_UID) != 0 { self.uid = uid }
            if valid & UInt32(FATTR_GID) != 0 { self.gid = gid }
            return FUSEReply.value(unique, attributes())
        case .open:
            // Keep the page cache across opens: QEMU reopens the handed descriptor's path, and
            // dropping the cache would throw away (after writing back) the guest's memory.
            var out = fuse_open_out()
            out.open_flags = UInt32(FOPEN_KEEP_CACHE)
            return FUSEReply.value(unique, out)
        case .read(_, let offset, let size):
            let count = offset >= file.size ? 0 : Int(min(UInt64(size), file.size - offset))
            guard count > 0 else { return FUSEReply.data(unique, count: 0) { _ in } }
            var failure: Int32 = 0
            let reply = FUSEReply.data(unique, count: count) { buffer in failure = file.read(at: offset, into: buffer) }
            return failure == 0 ? reply : FUSEReply.error(unique, failure)
        case .write(_, let offset, let data, _):
            guard offset < file.size else { return FUSEReply.error(unique, EFBIG) }
            let count = Int(min(UInt64(data.count), file.size - offset))
            let failure = file.write(at: offset, UnsafeRawBufferPointer(rebasing: bytes[data.lowerBound..<data.lowerBound + count]))
            guard failure == 0 else { return FUSEReply.error(unique, failure) }
            var out = fuse_write_out()
            out.size = UInt32(count)
            return FUSEReply.value(unique, out)
        case .fsync:
            let failure = file.synchronize()
            return failure == 0 ? FUSEReply.data(unique, count: 0) { _ in } : FUSEReply.error(unique, failure)
        case .flush, .release, .access, .destroy:
            return FUSEReply.data(unique, count: 0) { _ in }
        case .statfs:
            var out = fuse_statfs_out()
            out.st.bsize = 4096
            out.st.frsize = 4096
            out.st.blocks = (file.size + 4095) / 4096
            out.st.files = 1
            out.st.namelen = 255
            return FUSEReply.value(unique, out)
        case .forget, .interrupt, .unsupported:
            return FUSEReply.error(unique, ENOSYS)
        }
    }

    func attributes() -> fuse_attr_out {
        var out = fuse_attr_out()
        // Valid for a day: the file never changes size or owner behind the kernel's back.
        out.attr_valid = 86_400
        out.attr.ino = 1
        out.attr.size = file.size
        out.attr.blocks = (file.size + 511) / 512
        out.attr.mode = UInt32(S_IFREG) | mode
        out.attr.nlink = 1
        out.attr.uid = uid
        out.attr.gid = gid
        out.attr.blksize = 4096
        return out
    }
}
