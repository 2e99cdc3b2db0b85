import Foundation

/// The host side of the guest agent's protocol (Tools/guest/PROTOCOL.md): lines, payloads in
/// base64; `EXEC` answers once at the end, `RUN` (`+Run`) streams.
final class GuestAgent {
    let socket: UnixSocket
    /// Request ids start at a random point per connection, so that a late answer to another
    /// connection's request is never taken for ours.
    private var nextID = Int.random(in: 1_000_000..<1_000_000_000)

    struct Result: Sendable {
        var exitCode: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    init(path: String, timeout: TimeInterval) throws(SandboxError) {
        socket = try UnixSocket.connect(path, until: Date().addingTimeInterval(timeout))
    }

    /// Ends this connection, even while a stdin pump still holds the socket (see
    /// `UnixSocket.shutdownConnection`): the next client is served at once.
    func disconnect() {
        socket.shutdownConnection()
    }

    /// Waits until the agent answers a PING (after a boot the console may not be read yet, and
    /// a `READY` line can be lost when no host end was connected): pings every half second.
    func waitReady(timeout: TimeInterval) throws(SandboxError) {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            do {
                try ping(timeout: min(0.5, max(0.01, deadline.timeIntervalSinceNow)))
                return
            } catch {
                guard case .timeout = error, Date() < deadline else { throw error }
            }
        }
    }

    /// Round trip: true when the agent answers within the timeout.
    func ping(timeout: TimeInterval) throws(SandboxError) {
        let id = take()
        try socket.send("PING \(id)\n")
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let line = try socket.readLine(until: deadline)
            if line == "PONG \(id)" { return }
        }
    }

    /// How much longer than the command's own limit the host waits for its answer: the agent
    /// kills a command at its deadline and answers (exit 124) while the host still listens.
    static let answerGrace: TimeInterval = 30

    /// Runs `command` in the persistent shell. The guest enforces `timeout` (`DEADLINE`, then
    /// `EXEC`): the command is killed there and answered with exit 124, so the host never leaves
    /// an answer unread (agents from before `DEADLINE` answer it with an ERR line, skipped here).
    func exec(_ command: String, timeout: TimeInterval, deadlineSent: Bool = false) throws(SandboxError) -> Result {
        let id = take()
        let seconds = max(1, Int(timeout.rounded(.up)))
        try socket.send((deadlineSent ? "" : "DEADLINE \(seconds)\n") + "EXEC \(id) \(Data(command.utf8).base64EncodedString())\n")
        let deadline = Date().addingTimeInterval(timeout + Self.answerGrace)
        while true {
            let line: String
            do { line = try socket.readLine(until: deadline) } catch {
                // The agent took the request; no answer in time means the command still runs.
                if case .timeout = error { throw .commandTimedOut(command: command, seconds: timeout) }
                throw error
            }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count >= 3, parts[0] == "RESULT", parts[1] == "\(id)" else { continue }
            return try Self.decodeResult(parts, path: socket.path)
        }
    }

    /// `RESULT <id> <code> <b64 out> <b64 err> [<out bytes> <err bytes>]`. Every field must decode,
    /// and when the agent sends the byte counts (agents since the serial port) they must match:
    /// a short answer is an error, never an output quietly cut.
    static func decodeResult(_ parts: [Substring], path: String) throws(SandboxError) -> Result {
        guard parts.count == 5 || parts.count == 7, let code = Int32(parts[2]) else {
            throw .garbled("\(path): a RESULT line with \(parts.count) fields (expected 5 or 7)")
        }
        func decode(_ field: Substring, _ name: String) throws(SandboxError) -> [UInt8] {
            if field.isEmpty { return [] }
            guard let data = Data(base64Encoded: String(field)) else { throw .garbled("\(path): \(name) is not valid base64") }
            return [UInt8](data)
        }
        let out = try decode(parts[3], "stdout")
        let err = try decode(parts[4], "stderr")
        if parts.count == 7 {
            guard let outCount = Int(parts[5]), let errCount = Int(parts[6]) else {
                throw .garbled("\(path): byte counts '\(parts[5])' '\(parts[6])' are not numbers")
            }
            guard out.count == outCount, err.count == errCount else {
                throw .garbled("\(path): received \(out.count) of \(outCount) stdout bytes and \(err.count) of \(errCount) stderr bytes")
            }
        }
        return Result(exitCode: code, stdout: out, stderr: err)
    }

    /// Pushes the host's clock into the guest (after boot and after every restore).
    func setTime(_ date: Date = Date(), timeout: TimeInterval) throws(SandboxError) {
        try socket.send(String(format: "TIME %.6f\n", date.timeIntervalSince1970))
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if try socket.readLine(until: deadline).hasPrefix("OK TIME") { return }
        }
    }

    func take() -> Int { defer { nextID += 1 }; return nextID }
}
