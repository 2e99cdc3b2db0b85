import GRPCCore
import StasisAPI
import Synchronization

extension CheckpointerService {
    /// Many GetTuple/Put/PutWrites calls over one stream. Each call runs as its own task (so a
    /// slow put does not hold up a read behind it); answers are sent as they finish, as many per
    /// message as are ready. A failed call is answered with its status and the stream goes on.
    /// The stream ends when the client closes its side or the daemon drains (SIGTERM): calls
    /// already received are answered first, as unary calls in flight are.
    func pipeline(request: RPCAsyncSequence<Stasis_V1_PipelineRequest, any Error>,
                  response: RPCWriter<Stasis_V1_PipelineResponse>, context: ServerContext) async throws {
        let (incoming, feed) = AsyncStream<Stasis_V1_PipelineCall>.makeStream()
        let outbox = AnswerOutbox()
        // Not awaited: when the daemon drains, the client's side may stay open until this
        // handler returns.
        let reader = Task {
            do {
                for try await message in request { for call in message.calls { feed.yield(call) } }
            } catch {}
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
                        calls.addTask { outbox.post(await self.answer(call, context)) }
                    }
                }
                outbox.close()
            }
            for await _ in outbox.doorbell {
                let ready = outbox.takeAll()
                guard !ready.isEmpty else { continue }
                var message = Stasis_V1_PipelineResponse()
                message.answers = ready
                try await response.write(message)
            }
            try await group.waitForAll()
        }
    }

    func answer(_ call: Stasis_V1_PipelineCall, _ context: ServerContext) async -> Stasis_V1_PipelineAnswer {
        var out = Stasis_V1_PipelineAnswer()
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

/// Answers waiting to be sent, and a doorbell that rings when there are some: the writer sends
/// everything that is ready in one message.
final class AnswerOutbox: Sendable {
    private let answers = Mutex<[Stasis_V1_PipelineAnswer]>([])
    let doorbell: AsyncStream<Void>
    private let bell: AsyncStream<Void>.Continuation

    init() {
        (doorbell, bell) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func post(_ answer: Stasis_V1_PipelineAnswer) {
        answers.withLock { $0.append(answer) }
        bell.yield()
    }

    func takeAll() -> [Stasis_V1_PipelineAnswer] { answers.withLock { a in defer { a = [] }; return a } }

    /// No more answers: the doorbell's last ring is still delivered, then its stream ends.
    func close() { bell.finish() }
}
