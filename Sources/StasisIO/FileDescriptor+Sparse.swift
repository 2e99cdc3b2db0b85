import CStasisSystem
#if canImport(Glibc)
import Glibc
#endif

extension FileDescriptor {
    /// The allocated (data) ranges of the file, found with SEEK_DATA/SEEK_HOLE, so that holes are
    /// never read. File systems without sparse support report one range covering the file.
    public func dataRanges() throws(IOError) -> [Range<Int64>] {
        if let forced = FaultInjection.check(.seek, path: path) { throw IOError(.seek, path: path, errno: forced) }
        let end = try size()
        var ranges: [Range<Int64>] = []
        var position: Int64 = 0
        while position < end {
            let dataStart = lseek(rawValue, off_t(position), stasis_seek_data())
            if dataStart < 0 {
                let err = Errno.current
                if err == .noData { break }             // no data after `position`
                if err == .invalidArgument { return position == 0 ? [0..<end] : ranges + [position..<end] }
                throw IOError(.seek, path: path, errno: err)
            }
            let holeStart = lseek(rawValue, dataStart, stasis_seek_hole())
            if holeStart < 0 { throw IOError(.seek, path: path, errno: .current) }
            let upper = min(Int64(holeStart), end)
            if Int64(dataStart) < upper { ranges.append(Int64(dataStart)..<upper) }
            position = Int64(holeStart)
        }
        return ranges
    }

    /// Sets the file's length; growing it leaves a hole.
    public func truncate(to length: Int64) throws(IOError) {
        if let forced = FaultInjection.check(.truncate, path: path) { throw IOError(.truncate, path: path, errno: forced) }
        _ = try retryingOnInterrupt(.truncate, path) { ftruncate(rawValue, off_t(length)) }
    }

    /// Deallocates a range (it reads back as zeros).
    public func punchHole(at offset: Int64, length: Int64) throws(IOError) {
        _ = try retryingOnInterrupt(.punchHole, path) { stasis_punch_hole(rawValue, offset, length) }
    }
}
