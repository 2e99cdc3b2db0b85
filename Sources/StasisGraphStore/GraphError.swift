/// Why a checkpointer call failed. Messages name the thread, checkpoint or field; they never
/// include the stored values themselves.
public enum GraphError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A request field is missing or malformed.
    case invalidArgument(field: String, reason: String)
    /// Another writer stored something different under the same key.
    case conflict(String)
    /// A delta names a base value this store does not have; send the whole value instead.
    case missingBase(String)
    /// Stored data does not check out (a chunk missing or not matching its id).
    case corrupt(String)
    /// The catalog failed (disk full, I/O error); nothing was written.
    case storage(String)

    public var description: String {
        switch self {
        case .invalidArgument(let field, let reason): "\(field): \(reason)"
        case .conflict(let message): message
        case .missingBase(let message): "delta base \(message) is not stored here; send the whole value"
        case .corrupt(let message): "damaged checkpoint data: \(message) — run `stasis verify --deep` on the store"
        case .storage(let message): "the store could not complete the write: \(message); nothing was written"
        }
    }
}
