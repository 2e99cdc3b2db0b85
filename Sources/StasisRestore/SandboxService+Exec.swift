import Foundation
import StasisJSON
import StasisSandbox
import StasisSessions

extension SandboxService {
    /// Runs a command in the session's sandbox and records it in the history: `command.started`,
    /// the output as timestamped `output` events while it streams (`ExecOutputRecorder`), then
    /// `command.exited` with the byte counts. `output` sees every chunk first (a terminal, a gRPC
    /// stream). A transport error is recorded as a note and thrown, never taken for an answer.
    public func exec(_ sessionOrSandbox: String, _ request: ExecRequest,
                     output: (ExecStream, [UInt8]) throws(SandboxError) -> Void = { (_, _) throws(SandboxError) in }) throws(SandboxError) -> ExecStatus {
        let (spec, dir) = try running(sessionOrSandbox)
        let id = String(format: "%08x", UInt32.random(in: 0...UInt32.max))
        var started: [String: JSONValue] = ["command": .string(request.command), "id": .string(id), "sandbox": .string(spec.id)]
        if let cwd = request.workingDirectory { started["cwd"] = .string(cwd) }
        if !request.environment.isEmpty { started["env"] = .object(request.environment.mapValues { .string($0) }) }
        if request.stdin != nil { started["stdin"] = .bool(true) }
        if let terminal = request.terminal {
            // A terminal session: its output is one stream, recorded as stdout, and replays as
            // the terminal showed it (`stasis replay`).
            started["tty"] = .object(["rows": .int(Int64(terminal.initialSize.rows)), "columns": .int(Int64(terminal.initialSize.columns)),
                                      "term": .string(terminal.term)])
            if request.command.isEmpty { started["command"] = .string("(interactive shell)") }
        }
        try record(spec.session, [EventInput(kind: .commandStarted, data: started)])
        let recorder = ExecOutputRecorder(command: id)
        let status: ExecStatus
        do {
            status = try driver.exec(dir, request) { (stream, chunk) throws(SandboxError) in
                try output(stream, chunk)
                if let due = recorder.add(stream, chunk) { try record(spec.session, due) }
            }
        } catch {
            let rest = recorder.flush()
            try? record(spec.session, rest + [EventInput(kind: .note, data: ["text": .string("command \(id) failed: \(error)"), "id": .string(id)])])
            throw error
        }
        var exited: [String: JSONValue] = ["code": .int(Int64(status.exitCode)), "duration_ms": .double((status.seconds * 1000).rounded()),
                                           "id": .string(id), "stdout_bytes": .int(status.stdoutBytes), "stderr_bytes": .int(status.stderrBytes)]
        if status.timedOut { exited["timed_out"] = .bool(true) }
        try record(spec.session, recorder.flush() + [EventInput(kind: .commandExited, data: exited)])
        return status
    }

    /// Runs shell text with a timeout and returns its whole output (recorded as above).
    public func exec(_ sessionOrSandbox: String, _ command: String, timeout: TimeInterval = 600) throws(SandboxError) -> ExecResult {
        var out: [UInt8] = []
        var err: [UInt8] = []
        let status = try exec(sessionOrSandbox, ExecRequest(command: command, timeout: timeout)) { (stream, chunk) throws(SandboxError) in
            if stream == .stdout { out += chunk } else { err += chunk }
        }
        return ExecResult(exitCode: status.exitCode, stdout: String(decoding: out, as: UTF8.self),
                          stderr: String(decoding: err, as: UTF8.self), seconds: status.seconds)
    }
}
