import GRPCCore
import StasisAPI
import StasisGraphStore

/// LangGraph's `BaseStore` over gRPC, answered from the store's memory tables. A batch is one
/// call: the library checks it whole, runs it in one transaction, and answers per op.
struct MemoryStoreService: Stasis_V1_MemoryStore.SimpleServiceProtocol {
    let memory: MemoryStore
    let limits: MessageLimit

    func batch(request: Stasis_V1_MemoryBatchRequest, context: ServerContext) async throws -> Stasis_V1_MemoryBatchResponse {
        try limits.check(request.payloadBytes, "MemoryStore.Batch")
        let ops = try request.ops.enumerated().map { i, op throws(RPCError) in try MemoryOp(op, field: "ops[\(i)]") }
        let memory = self.memory
        let results = try await memory.batch(ops)
        var response = Stasis_V1_MemoryBatchResponse()
        response.results = results.map(Stasis_V1_MemoryResult.init)
        return response
    }

    func sweepExpired(request: Stasis_V1_MemorySweepRequest, context: ServerContext) async throws -> Stasis_V1_MemorySweepResponse {
        var response = Stasis_V1_MemorySweepResponse()
        response.itemsDeleted = UInt64(try await memory.sweepExpired())
        return response
    }
}
