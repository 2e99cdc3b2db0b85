import CStasisSystem
#if canImport(Glibc)
import Glibc
#endif

extension FileSystem {
    /// Copies a file's allocated ranges into a new file of the same size (holes stay holes), with
    /// copy_file_range (no pass through user space). Returns the bytes copied. The destination
    /// must not exist. No fsync: callers that need durability capture the copy into the store.
    @discardableResult
    public static func sparseCopy(from source: String, to destination: String) throws(IOError) -> Int64 {
        let src = try FileDescriptor.open(source, .readOnly)
        defer { src.close() }
        let dst = try FileDescriptor.open(destination, .createExclusive, permissions: 0o600)
        defer { dst.close() }
        let size = try src.size()
        try dst.truncate(to: size)
        var copied: Int64 = 0
        for range in try src.dataRanges() {
            var inOffset = range.lowerBound, outOffset = range.lowerBound
            var left = Int64(range.count)
            while left > 0 {
                let n = stasis_copy_file_range(src.rawValue, &inOffset, dst.rawValue, &outOffset, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    // A source on another kind of file system (a lazily served FUSE memory file)
                    // cannot be copied in the kernel: through user space, zeros left as holes.
                    guard [EXDEV, EOPNOTSUPP, ENOSYS, EINVAL].contains(errno) else {
                        throw IOError(.write, path: destination, errno: .current)
                    }
                    copied += try copyThroughMemory(src, dst, from: inOffset, count: left)
                    break
                }
                if n == 0 { break }
                left -= n
                copied += n
            }
        }
        return copied
    }

    /// Copies `count` bytes at `offset` with pread and pwrite, in 1 MiB blocks; an all-zero block
    /// is not written (the destination is sparse there). Returns the bytes written.
    static func copyThroughMemory(_ src: FileDescriptor, _ dst: FileDescriptor, from offset: Int64, count: Int64) throws(IOError) -> Int64 {
        let block = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: block, alignment: 4096)
        defer { buffer.deallocate() }
        var position = offset, written: Int64 = 0
        let end = offset + count
        while position < end {
            let want = Int(min(Int64(block), end - position))
            let n = try src.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: position)
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            if chunk.contains(where: { $0 != 0 }) {
                try dst.write(chunk, at: position)
                written += Int64(n)
            }
            position += Int64(n)
        }
        return written
    }
}
