/// What serves the bytes of the one file a `FUSEFileServer` exposes. Calls come from the
/// server's thread, one at a time; each answers 0 or a positive errno.
public protocol FUSEFile: AnyObject {
    /// The file's fixed size: reads and writes beyond it are cut short.
    var size: UInt64 { get }
    /// Fills `buffer` with the bytes at `offset` (exactly `buffer.count`, inside the file).
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int32
    /// Writes `bytes` at `offset` (inside the file).
    func write(at offset: UInt64, _ bytes: UnsafeRawBufferPointer) -> Int32
    /// The kernel flushed what it cached (fsync of the file): make it durable where it matters.
    func synchronize() -> Int32
}
