import GRPCCore
import Synchronization

/// Counts calls in flight and refuses new ones once the daemon drains (SIGTERM): in-flight calls
/// finish, new ones get UNAVAILABLE and a message saying why.
final class CallTracker: ServerInterceptor {
    private let state = Mutex<(inFlight: Int, draining: Bool)>((0, false))

    var inFlight: Int { state.withLock { $0.inFlight } }
    var draining: Bool { state.withLock { $0.draining } }

    func beginDraining() { state.withLock { $0.draining = true } }

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let admitted = state.withLock { s -> Bool in
            if s.draining { return false }
            s.inFlight += 1
            return true
        }
        guard admitted else {
            throw RPCError(code: .unavailable, message: "stasis serve is shutting down; retry against the next daemon")
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        return try await next(request, context)
    }
}
