#if canImport(Glibc)
import Glibc
#endif

/// Why a QEMU migration stream could not be split. Every case names the byte offset, so a report
/// can be checked against the stream itself.
public enum MigrationStreamError: Error, Sendable, CustomStringConvertible {
    /// The stream ended before a record it had started.
    case truncated(offset: Int64, reading: String)
    /// A byte that the format does not allow here.
    case malformed(offset: Int64, String)
    /// Valid QEMU, but a feature this splitter does not take apart (a capability, another
    /// iterable device, a configuration subsection): the caller falls back to a stopped copy.
    case unsupported(offset: Int64, String)
    /// Reading the pipe or writing the memory image failed.
    case io(String, errno: Int32)

    public var description: String {
        switch self {
        case .truncated(let offset, let what): "migration stream ends at byte \(offset) inside \(what)"
        case .malformed(let offset, let what): "migration stream byte \(offset): \(what)"
        case .unsupported(let offset, let what): "migration stream byte \(offset): \(what) is not supported by the live checkpoint"
        case .io(let what, let e): "\(what): \(String(cString: strerror(e)))"
        }
    }
}
