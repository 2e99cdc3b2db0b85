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
                    throw IOError(.write, path: destination, errno: .current)
                }
                if n == 0 { break }
                left -= n
                copied += n
            }
        }
        return copied
    }
}
