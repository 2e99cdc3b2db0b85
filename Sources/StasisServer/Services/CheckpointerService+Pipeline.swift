import GRPCCore
import StasisAPI

extension CheckpointerService {
    /// Many GetTuple/Put/PutWrites calls over one stream. Each request runs as its own task (so
    /// a slow put does not hold up a read behind it) and its answer is written when it is done.
    /// A failed call is answered with its status and the stream goes on. The stream ends when the
    /// client closes its side or the daemon drains (SIGTERM): calls already received are answered
    /// first, as with unary calls in flight.
    func pipeline(request: RPCAsyncSequence<Stasis_V1_PipelineRequest, any Error>,
                  response: RPCWriter<Stasis_V1_PipelineResponse>, context: ServerContext) async throws {
        let (incoming, feed) = AsyncStream<Stasis_V1_PipelineRequest>.makeStream()
        let (answers, sink) = AsyncStream<Stasis_V1_PipelineResponse>.makeStream()
        // Not awaited: when the daemon drains, the client's side may stay open until this
        // handler returns.
        let reader = Task {
            do { for try await call in request { feed.yield(call) } } catch {}
            feed.finish()
        }
        let drainWatch = tracker.onDrain { feed.finish() }
        defer {
            reader.cancel()
            tracker.cancelOnDrain(drainWatch)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskGroup(of: Void.self) { calls in
                    for await call in incoming {
                        calls.addTask { sink.yield(await self.answer(call, context)) }
                    }
                }
                sink.finish()
            }
            for await answer in answers { try await response.write(answer) }
            try await group.waitForAll()
        }
    }

    func answer(_ call: Stasis_V1_PipelineRequest, _ context: ServerContext) async -> Stasis_V1_PipelineResponse {
        var out = Stasis_V1_PipelineResponse()
        out.id = call.id
        do {
            switch call.call {
            case .getTuple(let r): out.getTuple = try await getTuple(request: r, context: context)
            case .put(let r): out.put = try await put(request: r, context: context)
            case .putWrites(let r): out.putWrites = try await putWrites(request: r, context: context)
            case nil: throw RPCError.invalid("call", "missing: set get_tuple, put or put_writes")
            }
        } catch {
            let status: RPCError
            if let e = error as? RPCError { status = e }
            else if let e = error as? any RPCErrorConvertible { status = RPCError(e) }
            else { status = RPCError(code: .internalError, message: "\(error)") }
            var failure = Stasis_V1_Failure()
            failure.code = Int32(status.code.rawValue)
            failure.message = status.message
            out.failure = failure
        }
        return out
    }
}
