#if canImport(Glibc)
import Glibc
#endif

extension FileDescriptor {
    /// Reads up to `buffer.count` bytes at `offset`; returns fewer only at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(IOError) -> Int {
        if let forced = FaultInjection.check(.read, path: path) { throw IOError(.read, path: path, errno: forced) }
        var done = 0
        while done < buffer.count {
            let n = try retryingOnInterrupt(.read, path) {
                pread(rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads exactly `buffer.count` bytes at `offset`, or throws `short` when the file ends first.
    public func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(IOError) {
        let n = try read(into: buffer, at: offset)
        if n != buffer.count { throw IOError(.read, path: path, errno: Errno(rawValue: ENODATA)) }
    }

    /// Writes all of `buffer` at `offset`.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: Int64) throws(IOError) {
        if let forced = FaultInjection.check(.write, path: path) { throw IOError(.write, path: path, errno: forced) }
        var done = 0
        while done < buffer.count {
            let n = try retryingOnInterrupt(.write, path) {
                pwrite(rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if n == 0 { throw IOError(.write, path: path, errno: .noSpace) }
            done += n
        }
    }

    /// Reads the whole file (for small files: manifests, configs, pack footers).
    public func readAll() throws(IOError) -> [UInt8] {
        let size = Int(try self.size())
        var bytes = [UInt8](repeating: 0, count: size)
        let n = try bytes.withMutableRawBytes { (buf) throws(IOError) -> Int in try read(into: buf, at: 0) }
        if n < size { bytes.removeLast(size - n) }
        return bytes
    }
}
