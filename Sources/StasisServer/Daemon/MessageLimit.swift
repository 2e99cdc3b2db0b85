import GRPCCore
import StasisAPI

/// The daemon's request size limit (`--max-message`), for a whole serialized request message.
///
/// Every stream is watched by `OversizedRequestGuard`, which refuses a larger message with
/// RESOURCE_EXHAUSTED from its 5-byte prefix, before the body is read; the transport's own limit
/// is set to the same value as a backstop. The handlers' check of the payload fields below
/// remains for callers that reach the services without the transport (tests, in-process use).
struct MessageLimit: Sendable {
    var bytes: Int

    func check(_ size: Int, _ rpc: String) throws {
        guard size <= bytes else {
            throw RPCError(code: .resourceExhausted,
                           message: "\(rpc) request of \(size) bytes exceeds this daemon's limit of \(bytes) bytes (--max-message); split the state or raise the limit")
        }
    }
}

// The bytes a request carries, counted from its payload fields (what dominates its size),
// without serialising it again.

extension Stasis_V1_Typed {
    var payloadBytes: Int { type.utf8.count + data.count }
}

extension Stasis_V1_PutRequest {
    var payloadBytes: Int {
        checkpoint.payloadBytes + metadata.payloadBytes + metadataJson.utf8.count
            + newValues.reduce(0) { $0 + $1.channel.utf8.count + $1.version.utf8.count + $1.value.payloadBytes + $1.delta.head.count + $1.delta.tail.count }
            + versions.reduce(0) { $0 + $1.channel.utf8.count + $1.version.utf8.count }
    }
}

extension Stasis_V1_PutWritesRequest {
    var payloadBytes: Int { writes.reduce(0) { $0 + $1.channel.utf8.count + $1.value.payloadBytes + $1.taskID.utf8.count } }
}

extension Stasis_V1_AppendRequest {
    var payloadBytes: Int { events.reduce(0) { $0 + $1.kind.utf8.count + $1.dataJson.utf8.count } }
}
