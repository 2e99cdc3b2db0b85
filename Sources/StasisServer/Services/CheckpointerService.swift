import GRPCCore
import StasisAPI
import StasisGraphStore
import StasisJSON

/// LangGraph's `BaseCheckpointSaver` over gRPC, answered from the store's graph tables.
struct CheckpointerService: Stasis_V1_Checkpointer.SimpleServiceProtocol {
    let graph: GraphStore
    let limits: MessageLimit
    let tracker: CallTracker

    func getTuple(request: Stasis_V1_GetTupleRequest, context: ServerContext) async throws -> Stasis_V1_GetTupleResponse {
        let key = GraphKey(request.key)
        guard !key.thread.isEmpty else { throw RPCError.invalid("key.thread_id", "must not be empty") }
        // Read in place: one row and values (usually cached) take less than handing the read to
        // another thread and back.
        let tuple = try graph.tuple(key)
        var response = Stasis_V1_GetTupleResponse()
        if let tuple {
            response.found = true
            response.tuple = .init(tuple)
        }
        return response
    }

    func list(request: Stasis_V1_ListRequest, response: RPCWriter<Stasis_V1_CheckpointTuple>, context: ServerContext) async throws {
        var filter: [String: JSONValue] = [:]
        if !request.metadataFilterJson.isEmpty {
            guard let object = (try? JSONValue.parse(request.metadataFilterJson))?.objectValue else {
                throw RPCError.invalid("metadata_filter_json", "must be a JSON object, e.g. {\"source\": \"loop\"}")
            }
            filter = object
        }
        let query = CheckpointQuery(
            thread: request.hasThreadID ? request.threadID : nil,
            namespace: request.hasCheckpointNs ? request.checkpointNs : nil,
            checkpoint: request.hasCheckpointID ? request.checkpointID : nil,
            before: request.hasBeforeCheckpointID ? request.beforeCheckpointID : nil,
            metadataFilter: filter,
            limit: request.limit == 0 ? nil : Int(request.limit))
        let graph = self.graph
        let keys = try await Offload.run { () throws -> [GraphKey] in
            return try graph.list(query)
        }
        // Read in batches of 16, each in one read transaction: a long listing never holds every
        // value at once. A checkpoint deleted meanwhile is skipped.
        var at = 0
        while at < keys.count {
            let batch = Array(keys[at..<min(at + 16, keys.count)])
            at += batch.count
            for tuple in try graph.tuples(batch) { try await response.write(.init(tuple)) }
        }
    }

    func put(request: Stasis_V1_PutRequest, context: ServerContext) async throws -> Stasis_V1_PutResponse {
        try limits.check(request.payloadBytes, "Put")
        guard request.hasCheckpoint else { throw RPCError.invalid("checkpoint", "missing") }
        guard request.hasMetadata else { throw RPCError.invalid("metadata", "missing") }
        var versions: [String: String] = [:]
        for v in request.versions {
            guard versions.updateValue(v.version, forKey: v.channel) == nil else {
                throw RPCError.invalid("versions", "channel \"\(v.channel)\" is listed twice")
            }
        }
        let put = CheckpointPut(
            key: GraphKey(request.key),
            parent: request.parentCheckpointID.isEmpty ? nil : request.parentCheckpointID,
            checkpoint: GraphValue(request.checkpoint),
            metadata: GraphValue(request.metadata),
            metadataJSON: request.metadataJson,
            versions: versions,
            newValues: request.newValues.map {
                ChannelUpdate(channel: $0.channel, version: $0.version, value: $0.hasValue ? GraphValue($0.value) : nil,
                              delta: $0.hasDelta ? ValueDelta($0.delta) : nil)
            })
        let added: Int64
        added = try await graph.put(put)
        var response = Stasis_V1_PutResponse()
        response.key = request.key
        response.newBytes = UInt64(added)
        return response
    }

    func putWrites(request: Stasis_V1_PutWritesRequest, context: ServerContext) async throws -> Stasis_V1_PutWritesResponse {
        try limits.check(request.payloadBytes, "PutWrites")
        var writes: [PendingWrite] = []
        for (i, w) in request.writes.enumerated() {
            guard w.hasValue else { throw RPCError.invalid("writes[\(i)].value", "missing") }
            writes.append(PendingWrite(taskID: request.taskID, index: w.idx, channel: w.channel, value: GraphValue(w.value), taskPath: request.taskPath))
        }
        try await graph.putWrites(GraphKey(request.key), taskID: request.taskID, taskPath: request.taskPath,
                                  writes: writes, replace: request.replace)
        return .init()
    }

    func deleteThread(request: Stasis_V1_DeleteThreadRequest, context: ServerContext) async throws -> Stasis_V1_DeleteResponse {
        return .deleted(try await graph.deleteThreads(request.threadIds))
    }

    func deleteForRuns(request: Stasis_V1_DeleteForRunsRequest, context: ServerContext) async throws -> Stasis_V1_DeleteResponse {
        return .deleted(try await graph.deleteRuns(request.runIds))
    }

    func copyThread(request: Stasis_V1_CopyThreadRequest, context: ServerContext) async throws -> Stasis_V1_CopyThreadResponse {
        var response = Stasis_V1_CopyThreadResponse()
        response.checkpointsCopied = UInt64(try await graph.copyThread(from: request.sourceThreadID, to: request.targetThreadID))
        return response
    }

    func prune(request: Stasis_V1_PruneRequest, context: ServerContext) async throws -> Stasis_V1_DeleteResponse {
        let strategy: PruneStrategy
        switch request.strategy {
        case .keepLatest: strategy = .keepLatest
        case .delete: strategy = .delete
        case .UNRECOGNIZED(let n): throw RPCError.invalid("strategy", "unknown value \(n); use KEEP_LATEST or DELETE")
        }
        return .deleted(try await graph.prune(request.threadIds, strategy: strategy))
    }
}
