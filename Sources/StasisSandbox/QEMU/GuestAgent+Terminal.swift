import Foundation

extension GuestAgent {
    /// Runs a program on a pseudo-terminal of its own with `PTY` (Tools/guest/PROTOCOL.md): an
    /// interactive shell for an empty `text`, else `sh -c text`. Output (one stream: a terminal
    /// merges stdout and stderr) goes to `output` as it comes; stdin frames and resizes go in
    /// while it runs. Without stdin the terminal gets end-of-file at once.
    func runTerminal(_ text: String, terminal: ExecTerminal, stdin: ExecInput?, timeout: TimeInterval,
                     output: (ExecStream, [UInt8]) throws(SandboxError) -> Void) throws(SandboxError) -> (exitCode: Int32, bytes: Int64, timedOut: Bool) {
        let id = take()
        let seconds = max(1, Int(timeout.rounded(.up)))
        let size = terminal.initialSize
        try socket.send("DEADLINE \(seconds)\nPTY \(id) \(size.rows) \(size.columns) \(terminal.term) \(Data(text.utf8).base64EncodedString())\n")
        let pump = StdinPump(socket: socket, id: id, input: stdin ?? .bytes([]))
        terminal.attach { [pump] size in pump.send(control: "RESIZE \(id) \(size.rows) \(size.columns)\n") }
        pump.start()
        defer {
            terminal.attach(nil)
            pump.finish()
        }
        let deadline = Date().addingTimeInterval(timeout + Self.answerGrace)
        var received: Int64 = 0
        while true {
            let line: [UInt8]
            do { line = try socket.readLineBytes(until: deadline) } catch {
                if case .timeout = error { throw .commandTimedOut(command: text.isEmpty ? "the interactive shell" : text, seconds: timeout) }
                throw error
            }
            let parts = line.split(separator: 0x20, maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 2 else { continue }
            let verb = String(decoding: parts[0], as: UTF8.self)
            guard String(decoding: parts[1], as: UTF8.self) == "\(id)" || (verb == "ERR" && parts[1].elementsEqual("-".utf8)) else { continue }
            switch verb {
            case "OUT":
                guard parts.count == 4, let data = Data(base64Encoded: Data(parts[3])) else {
                    throw .garbled("\(socket.path): a terminal OUT line that is not <id> 1 <base64>")
                }
                received += Int64(data.count)
                try output(.stdout, [UInt8](data))
            case "END":
                let fields = String(decoding: line, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false)
                guard fields.count == 6, let code = Int32(fields[2]), let bytes = Int64(fields[3]) else {
                    throw .garbled("\(socket.path): an END line with \(fields.count) fields (expected 6)")
                }
                guard bytes == received else { throw .garbled("\(socket.path): received \(received) of \(bytes) terminal bytes") }
                pump.finish()
                waitUntilInputConsumed()
                return (code, bytes, fields[5] == "1")
            case "ERR":
                let message = parts.count >= 3 ? Data(base64Encoded: Data(parts[2])).map { String(decoding: $0, as: UTF8.self) } ?? "" : ""
                if message.hasSuffix("unknown request: PTY") {
                    throw .badArgument("this sandbox's guest agent predates terminal sessions (it was restored from an older checkpoint): use `stasis exec` instead")
                }
                guard parts[1].elementsEqual("\(id)".utf8) else { continue }
                throw .guestNotAnswering("\(socket.path): the agent refused the terminal session: \(message)")
            default:
                continue
            }
        }
    }
}
