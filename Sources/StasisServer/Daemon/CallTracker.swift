import GRPCCore
import Synchronization

/// Counts calls in flight and refuses new ones once the daemon drains (SIGTERM): in-flight calls
/// finish, new ones get UNAVAILABLE and a message saying why.
final class CallTracker: ServerInterceptor {
    private let state = Mutex<(inFlight: Int, draining: Bool)>((0, false))
    private let watchers = Mutex<(next: Int, handlers: [Int: @Sendable () -> Void])>((0, [:]))

    var inFlight: Int { state.withLock { $0.inFlight } }
    var draining: Bool { state.withLock { $0.draining } }

    func beginDraining() {
        state.withLock { $0.draining = true }
        let handlers = watchers.withLock { w in defer { w.handlers = [:] }; return Array(w.handlers.values) }
        for h in handlers { h() }
    }

    /// Calls `handler` once when the daemon starts draining (at once if it already is). Long-lived
    /// streams use it to stop taking calls.
    func onDrain(_ handler: @escaping @Sendable () -> Void) -> Int {
        let id = watchers.withLock { w -> Int in
            w.next += 1
            w.handlers[w.next] = handler
            return w.next
        }
        if draining, let h = watchers.withLock({ $0.handlers.removeValue(forKey: id) }) { h() }
        return id
    }

    func cancelOnDrain(_ id: Int) { _ = watchers.withLock { $0.handlers.removeValue(forKey: id) } }

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
