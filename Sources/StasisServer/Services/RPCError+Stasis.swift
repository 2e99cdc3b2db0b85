import GRPCCore
import StasisGraphStore
import StasisRestore
import StasisSandbox
import StasisSessions

// Library errors carry their gRPC status: a handler just rethrows them. The message is the
// library's, which names the thread, checkpoint, session or field and says what to do; stored
// values are never echoed.

extension GraphError: RPCErrorConvertible {
    public var rpcErrorCode: RPCError.Code {
        switch self {
        case .invalidArgument: .invalidArgument
        case .conflict: .aborted
        case .missingBase: .failedPrecondition
        case .corrupt: .dataLoss
        case .storage: .unavailable
        case .outcomeUnknown: .unknown
        }
    }
    public var rpcErrorMessage: String { description }
}

extension HistoryError: RPCErrorConvertible {
    public var rpcErrorCode: RPCError.Code {
        switch self {
        case .sessionNotFound, .checkpointNotFound, .eventNotFound: .notFound
        case .badEvent, .ambiguous, .badArgument, .badBundle: .invalidArgument
        case .hasDescendants: .failedPrecondition
        case .unreadableEvent: .dataLoss
        case .store: .unavailable
        }
    }
    public var rpcErrorMessage: String { description }
}

extension SandboxError: RPCErrorConvertible {
    public var rpcErrorCode: RPCError.Code {
        switch self {
        case .badArgument: .invalidArgument
        case .sandboxNotFound: .notFound
        case .paused: .failedPrecondition
        case .sandboxExists: .alreadyExists
        case .timeout, .commandTimedOut: .deadlineExceeded
        // The library's own error decides: an unknown session is NOT_FOUND, not UNAVAILABLE.
        case .store(_, let cause?): (cause as? any RPCErrorConvertible)?.rpcErrorCode ?? .unavailable
        case .store, .io: .unavailable
        default: .failedPrecondition
        }
    }
    public var rpcErrorMessage: String { description }
}

extension RPCError {
    static func invalid(_ field: String, _ reason: String) -> RPCError {
        RPCError(code: .invalidArgument, message: "\(field): \(reason)")
    }
}
