import StasisCatalog

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
    /// The catalog failed (disk full, I/O error, a lost connection); nothing was written.
    /// `cause` is the catalog's own error, kept for logs and callers that look deeper.
    case storage(String, cause: (any Error)? = nil)
    /// The catalog's connection was lost while a write committed, and whether it was committed
    /// could not be found out: the write may or may not be stored (a put of the same checkpoint
    /// again is harmless: puts are idempotent).
    case outcomeUnknown(String, cause: (any Error)? = nil)

    public var description: String {
        switch self {
        case .invalidArgument(let field, let reason): "\(field): \(reason)"
        case .conflict(let message): message
        case .missingBase(let message): "delta base \(message) is not stored here; send the whole value"
        case .corrupt(let message): "damaged checkpoint data: \(message) — run `stasis verify --deep` on the store"
        case .storage(let message, _): "the store could not complete the write: \(message); nothing was written"
        case .outcomeUnknown(let message, _): "the write may or may not have been stored: \(message)"
        }
    }

    /// Errors are equal when they say the same; a storage error's cause is not compared.
    public static func == (a: GraphError, b: GraphError) -> Bool {
        switch (a, b) {
        case let (.invalidArgument(f1, r1), .invalidArgument(f2, r2)): f1 == f2 && r1 == r2
        case let (.conflict(x), .conflict(y)), let (.missingBase(x), .missingBase(y)), let (.corrupt(x), .corrupt(y)): x == y
        case let (.storage(x, _), .storage(y, _)), let (.outcomeUnknown(x, _), .outcomeUnknown(y, _)): x == y
        default: false
        }
    }

    /// What a failed catalog transaction means to a caller: the graph store's own errors as they
    /// were thrown; a column holding a value of the wrong type as damage (it only happens to a
    /// damaged catalog); anything else as the catalog failing, with its error as the cause.
    static func from(_ error: any Error) -> GraphError {
        switch error {
        case let error as GraphError: error
        case CatalogError.body(let inner): from(inner)
        case CatalogError.badValue: .corrupt("\(error)")
        case CatalogError.commitUnknown: .outcomeUnknown("\(error)", cause: error)
        default: .storage("\(error)", cause: error)
        }
    }
}
