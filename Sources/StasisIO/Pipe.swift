import CStasisSystem
#if canImport(Glibc)
import Glibc
#endif

/// A pipe whose ends are closed on exec, for streams handed to another process (QEMU writes a
/// migration stream into the write end; the read end stays here).
public enum Pipe {
    /// Opens a pipe and asks for `capacity` bytes of buffer (the kernel may give less; the
    /// default is 64 KiB, which makes a fast writer wait on every other page).
    public static func open(capacity: Int32 = 1 << 20) throws(IOError) -> (read: FileDescriptor, write: FileDescriptor) {
        var ends: [Int32] = [-1, -1]
        guard stasis_pipe(&ends, capacity) == 0 else { throw IOError(.open, path: "pipe", errno: .current) }
        return (FileDescriptor(rawValue: ends[0], path: "pipe (read end)"), FileDescriptor(rawValue: ends[1], path: "pipe (write end)"))
    }
}
