import Foundation
import GRPCCore
import StasisAPI
import StasisRestore
import StasisSandbox

extension SandboxesService {
    /// A command run to its end, its whole output in the answer (bytes exactly as the guest
    /// wrote them, not through a String).
    func exec(request: Stasis_V1_ExecRequest, context: ServerContext) async throws -> Stasis_V1_ExecResponse {
        var exec = try Self.execRequest(request)
        if !request.stdin.isEmpty { exec.stdin = .bytes(Array(request.stdin)) }
        let s = service, target = request.sandbox, command = exec
        return try await call { () throws(SandboxError) in
            var out = Stasis_V1_ExecResponse()
            let status = try s.exec(target, command) { (stream, chunk) throws(SandboxError) in
                if stream == .stdout { out.stdout.append(contentsOf: chunk) } else { out.stderr.append(contentsOf: chunk) }
            }
            out.set(status)
            return out
        }
    }

    /// The same command with output streamed as it comes and stdin sent while it runs
    /// (`ExecStream` in Formats/proto/stasis.proto).
    func execStream(request: RPCAsyncSequence<Stasis_V1_ExecStreamRequest, any Error>,
                    response: RPCWriter<Stasis_V1_ExecStreamResponse>, context: ServerContext) async throws {
        let stdin = StdinQueue()
        // One reader for the whole request stream: the first message names the command, the
        // rest feed stdin until `stdin_closed` or the end of the stream.
        let (starts, startFeed) = AsyncThrowingStream<Stasis_V1_ExecRequest, any Error>.makeStream()
        let reader = Task {
            var first = true
            do {
                for try await message in request {
                    switch message.message {
                    case .start(let start) where first:
                        startFeed.yield(start)
                        startFeed.finish()
                    case .start:
                        throw RPCError.invalid("start", "sent twice: the command is named once, in the first request")
                    case .stdin(let bytes) where !first: stdin.put(Array(bytes))
                    case .stdinClosed where !first: stdin.close()
                    case .stdin, .stdinClosed, nil:
                        throw RPCError.invalid("start", "missing: the first request must name the command")
                    }
                    first = false
                }
                startFeed.finish(throwing: first ? RPCError.invalid("start", "missing: the stream ended before naming a command") : nil)
            } catch {
                startFeed.finish(throwing: error)
            }
            stdin.close()
        }
        defer { reader.cancel() }
        var startIterator = starts.makeAsyncIterator()
        guard let start = try await startIterator.next() else {
            throw RPCError.invalid("start", "missing: the stream ended before naming a command")
        }
        var exec = try Self.execRequest(start)
        if start.stdinStream { exec.stdin = stdin.input } else if !start.stdin.isEmpty { exec.stdin = .bytes(Array(start.stdin)) }

        let outbox = ExecOutbox()
        let s = service, target = start.sandbox, command = exec
        let runner = Task { () async -> Result<ExecStatus, any Error> in
            defer { outbox.finish() }
            do {
                return .success(try await Offload.run { () throws -> ExecStatus in
                    try s.exec(target, command) { (stream, chunk) throws(SandboxError) in try outbox.send(stream, chunk) }
                })
            } catch {
                return .failure(error)
            }
        }
        do {
            for await message in outbox.messages {
                try await response.write(message)
                outbox.written()
            }
        } catch {
            // The client went away. The command's next output fails and ends its relay; a
            // command that writes nothing more runs on to its end or its timeout, unawaited.
            outbox.abandon()
            throw error
        }
        var exit = Stasis_V1_ExecResponse()
        exit.set(try await runner.value.get())
        var last = Stasis_V1_ExecStreamResponse()
        last.exit = exit
        try await response.write(last)
    }

    /// The library's request for the fields of `r` (stdin apart), each checked.
    static func execRequest(_ r: Stasis_V1_ExecRequest) throws -> ExecRequest {
        try required(r.sandbox, "sandbox")
        guard r.command.isEmpty != r.argv.isEmpty else {
            throw RPCError.invalid(r.command.isEmpty ? "argv" : "command",
                                   r.command.isEmpty ? "missing: give the program and its arguments (argv) or a shell line (command)"
                                                     : "given with argv: give one of the two")
        }
        guard r.timeoutSeconds >= 0, r.timeoutSeconds.isFinite else { throw RPCError.invalid("timeout_seconds", "must be 0 (600 s) or more") }
        if let first = r.argv.first, first.isEmpty { throw RPCError.invalid("argv", "the program (argv[0]) is empty") }
        let timeout = r.timeoutSeconds == 0 ? 600 : r.timeoutSeconds
        let cwd = r.cwd.isEmpty ? nil : r.cwd
        return r.argv.isEmpty
            ? ExecRequest(command: r.command, environment: r.env, workingDirectory: cwd, timeout: timeout)
            : ExecRequest(argv: r.argv, environment: r.env, workingDirectory: cwd, timeout: timeout)
    }
}

extension Stasis_V1_ExecResponse {
    mutating func set(_ status: ExecStatus) {
        exitCode = status.exitCode
        durationMs = status.seconds * 1000
        timedOut = status.timedOut
        stdoutBytes = status.stdoutBytes
        stderrBytes = status.stderrBytes
    }
}
