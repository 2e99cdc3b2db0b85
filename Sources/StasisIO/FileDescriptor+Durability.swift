import CStasisSystem
#if canImport(Glibc)
import Glibc
#endif

extension FileDescriptor {
    /// Data and metadata on stable storage.
    public func sync() throws(IOError) {
        if let forced = FaultInjection.check(.fsync, path: path) { throw IOError(.sync, path: path, errno: forced) }
        _ = try retryingOnInterrupt(.sync, path) { fsync(rawValue) }
    }

    /// Data (and the metadata needed to read it back) on stable storage: `fdatasync`.
    public func syncData() throws(IOError) {
        if let forced = FaultInjection.check(.fsync, path: path) { throw IOError(.sync, path: path, errno: forced) }
        _ = try retryingOnInterrupt(.sync, path) { fdatasync(rawValue) }
    }

    /// Starts write-back of a range without waiting, so that a later `sync` finds little to do.
    /// Advisory: errors are ignored (the later `sync` reports them).
    public func startWriteback(at offset: Int64, length: Int64) {
        _ = stasis_start_writeback(rawValue, offset, length)
    }
}
