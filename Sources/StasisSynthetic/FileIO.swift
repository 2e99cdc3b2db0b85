// Minimal POSIX file helpers (retry on EINTR, full reads/writes, typed errors).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors of the synthetic-image writer.
public enum SyntheticImageError: Error, CustomStringConvertible, Equatable {
    /// Image sizes must be positive multiples of 4096.
    case invalidSize(Int64)
    case invalidFraction(Double)
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// The file ended before the expected size.
    case shortRead(path: String, offset: Int64)
    /// An output path names the input file (it would be truncated before being read).
    case outputIsInput(path: String)

    public var description: String {
        switch self {
        case .invalidSize(let s): return "image size \(s) is not a positive multiple of 4096"
        case .invalidFraction(let f): return "dirty fraction \(f) is not in 0...1"
        case .io(let op, let path, let e): return "\(op) \(path): \(String(cString: strerror(e))) (errno \(e))"
        case .shortRead(let path, let off): return "\(path): unexpected end of file at offset \(off)"
        case .outputIsInput(let path): return "\(path) is the input image; write the output elsewhere"
        }
    }
}

final class RawFile {
    let fd: Int32
    let path: String

    init(path: String, flags: Int32, mode: mode_t = 0o644) throws(SyntheticImageError) {
        var fd: Int32
        repeat { fd = open(path, flags | O_CLOEXEC, mode) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        self.fd = fd
        self.path = path
    }

    static func create(_ path: String) throws(SyntheticImageError) -> RawFile {
        try RawFile(path: path, flags: O_WRONLY | O_CREAT | O_TRUNC)
    }

    static func openRead(_ path: String) throws(SyntheticImageError) -> RawFile {
        try RawFile(path: path, flags: O_RDONLY)
    }

    deinit { _ = close(fd) }

    /// True if `path` exists and is this very file.
    func isSameFile(as path: String) -> Bool {
        var a = stat(), b = stat()
        guard fstat(fd, &a) == 0, stat(path, &b) == 0 else { return false }
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    func size() throws(SyntheticImageError) -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(operation: "fstat", path: path, errno: errno) }
        return Int64(st.st_size)
    }

    func truncate(to size: Int64) throws(SyntheticImageError) {
        var r: Int32
        repeat { r = ftruncate(fd, off_t(size)) } while r < 0 && errno == EINTR
        guard r == 0 else { throw .io(operation: "ftruncate", path: path, errno: errno) }
    }

    func pwriteAll(_ buf: UnsafeRawBufferPointer, at offset: Int64) throws(SyntheticImageError) {
        var done = 0
        while done < buf.count {
            let n = pwrite(fd, buf.baseAddress! + done, buf.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "pwrite", path: path, errno: errno)
            }
            done += n
        }
    }

    func preadAll(_ buf: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SyntheticImageError) {
        var done = 0
        while done < buf.count {
            let n = pread(fd, buf.baseAddress! + done, buf.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "pread", path: path, errno: errno)
            }
            if n == 0 { throw .shortRead(path: path, offset: offset + Int64(done)) }
            done += n
        }
    }

    /// Writes `pages` pages at `offset`; with `sparse`, all-zero pages are skipped
    /// (the file must already have been truncated to its final size, so they stay holes).
    func writePages(_ buf: UnsafeRawBufferPointer, at offset: Int64, sparse: Bool) throws(SyntheticImageError) {
        guard sparse else { return try pwriteAll(buf, at: offset) }
        let ps = SyntheticLayout.pageSize
        let pages = buf.count / ps
        var p = 0
        while p < pages {
            while p < pages && PageOps.isZero(buf.baseAddress! + p * ps) { p += 1 }
            let start = p
            while p < pages && !PageOps.isZero(buf.baseAddress! + p * ps) { p += 1 }
            if p > start {
                try pwriteAll(UnsafeRawBufferPointer(rebasing: buf[(start * ps)..<(p * ps)]),
                              at: offset + Int64(start * ps))
            }
        }
    }
}

enum PageOps {
    /// True if the 4 KiB page at `p` is all zeros.
    @inline(__always)
    static func isZero(_ p: UnsafeRawPointer) -> Bool {
        let w = p.assumingMemoryBound(to: UInt64.self)
        var i = 0
        while i < SyntheticLayout.wordsPerPage {
            if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7]) != 0 {
                return false
            }
            i &+= 8
        }
        return true
    }

    @inline(__always)
    static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Bool {
        memcmp(a, b, SyntheticLayout.pageSize) == 0
    }
}
