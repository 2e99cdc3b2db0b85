import Crypto
import GRPCCore

/// On TCP every call except the health check must carry `authorization: Bearer TOKEN`.
/// Compared in constant time (both sides hashed first, so lengths do not leak either).
struct TokenInterceptor: ServerInterceptor {
    let expected: SHA256.Digest

    init(token: String) { expected = SHA256.hash(data: Array(token.utf8)) }

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        if context.descriptor.service.fullyQualifiedService == "stasis.v1.Health" { return try await next(request, context) }
        guard let header = request.metadata[stringValues: "authorization"].first(where: { _ in true }) else {
            throw RPCError(code: .unauthenticated, message: "this listener needs a token: send metadata `authorization: Bearer TOKEN`")
        }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), SHA256.hash(data: Array(header.dropFirst(prefix.count).utf8)) == expected else {
            throw RPCError(code: .unauthenticated, message: "wrong token: check --token-file / STASIS_TOKEN on both sides")
        }
        return try await next(request, context)
    }
}
