import Foundation
import Synchronization

extension GuestAgent {
    /// Runs shell text in the persistent shell with `RUNB` or `RUN` (Tools/guest/PROTOCOL.md): each chunk
    /// of stdout and stderr is handed to `output` as the guest sends it, stdin (if any) is pumped
    /// from its own thread, and the answer's byte counts must equal what arrived — a short answer
    /// is an error, never a quietly cut output. Agents from before `RUN` (restored from old
    /// checkpoints) answer it with an ERR; the command then runs with `EXEC`, its output arriving
    /// whole at the end, and stdin is refused.
    func run(_ text: String, stdin: ExecInput?, timeout: TimeInterval,
             output: (ExecStream, [UInt8]) throws(SandboxError) -> Void) throws(SandboxError) -> (exitCode: Int32, stdoutBytes: Int64, stderrBytes: Int64, timedOut: Bool) {
        let id = take()
        let seconds = max(1, Int(timeout.rounded(.up)))
        let command = Data(text.utf8).base64EncodedString()
        // Without stdin, RUNB: output in binary frames (no base64 in the guest; under TCG that
        // was most of its work). With stdin, RUN: an agent from before RUNB refuses it, and the
        // stdin frames already on their way would then be read as requests.
        try socket.send("DEADLINE \(seconds)\n\(stdin == nil ? "RUNB" : "RUN") \(id) \(stdin == nil ? 0 : 1) \(command)\n")
        let pump = stdin.map { StdinPump(socket: socket, id: id, input: $0) }
        pump?.start()
        defer { pump?.finish() }
        let deadline = Date().addingTimeInterval(timeout + Self.answerGrace)
        var received: [ExecStream: Int64] = [.stdout: 0, .stderr: 0]
        while true {
            let line: [UInt8]
            do { line = try socket.readLineBytes(until: deadline) } catch {
                if case .timeout = error { throw .commandTimedOut(command: text, seconds: timeout) }
                throw error
            }
            let parts = line.split(separator: 0x20, maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 2 else { continue }
            let verb = String(decoding: parts[0], as: UTF8.self)
            let to = String(decoding: parts[1], as: UTF8.self)
            switch verb {
            case "OUTB" where to == "\(id)":
                let fields = String(decoding: line, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false)
                guard fields.count == 4, let stream = Self.stream(ArraySlice(fields[2].utf8)), let length = Int(fields[3]), (0...(16 << 20)).contains(length) else {
                    throw .garbled("\(socket.path): an OUTB line that is not <id> 1|2 <length>")
                }
                let data = try socket.readBytes(count: length, until: deadline)
                received[stream, default: 0] += Int64(length)
                try output(stream, data)
            case "OUT" where to == "\(id)":
                guard parts.count == 4, let stream = Self.stream(parts[2]) else {
                    throw .garbled("\(socket.path): an OUT line with \(parts.count) fields")
                }
                guard let data = Data(base64Encoded: Data(parts[3])) else { throw .garbled("\(socket.path): an OUT chunk is not valid base64") }
                received[stream, default: 0] += Int64(data.count)
                try output(stream, [UInt8](data))
            case "END" where to == "\(id)":
                let fields = String(decoding: line, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false)
                guard fields.count == 6, let code = Int32(fields[2]), let out = Int64(fields[3]), let err = Int64(fields[4]) else {
                    throw .garbled("\(socket.path): an END line with \(fields.count) fields (expected 6)")
                }
                guard out == received[.stdout], err == received[.stderr] else {
                    throw .garbled("\(socket.path): received \(received[.stdout]!) of \(out) stdout bytes and \(received[.stderr]!) of \(err) stderr bytes")
                }
                if let pump {
                    pump.finish()
                    waitUntilInputConsumed()
                }
                return (code, out, err, fields[5] == "1")
            case "ERR" where to == "\(id)":
                let message = parts.count >= 3 ? Data(base64Encoded: Data(parts[2])).map { String(decoding: $0, as: UTF8.self) } ?? "" : ""
                throw .guestNotAnswering("\(socket.path): the agent refused the command: \(message)")
            case "ERR" where to == "-":
                // An agent from before RUN: "unknown request: RUN" (one from before DEADLINE also
                // refuses that line first, which is skipped).
                let message = parts.count >= 3 ? Data(base64Encoded: Data(parts[2])).map { String(decoding: $0, as: UTF8.self) } ?? "" : ""
                if message.hasSuffix("unknown request: RUNB") {
                    // An agent from before binary frames (its DEADLINE still stands).
                    try socket.send("RUN \(id) 0 \(command)\n")
                    continue
                }
                guard message.hasSuffix("unknown request: RUN") else { continue }
                guard stdin == nil else {
                    throw .badArgument("this sandbox's guest agent predates streaming exec (it was restored from an older checkpoint): it cannot take stdin; run the command without it")
                }
                let r = try exec(text, timeout: timeout, deadlineSent: true)
                if !r.stdout.isEmpty { try output(.stdout, r.stdout) }
                if !r.stderr.isEmpty { try output(.stderr, r.stderr) }
                return (r.exitCode, Int64(r.stdout.count), Int64(r.stderr.count), r.exitCode == 124)
            default:
                continue
            }
        }
    }

    /// After a command with stdin, input frames and their `EOF` may still be on their way when
    /// `END` arrives (the command did not read them all). QEMU drops what the guest has not taken
    /// yet when the host disconnects, and a guest that never sees its `EOF` would take the next
    /// connection's requests for frames: a `PING` answered means the guest is past the `EOF`. Not
    /// an error when it fails — the command's answer is complete, and the guest also recovers on
    /// its own (it stops dropping lines at the first one that is not a frame).
    func waitUntilInputConsumed() {
        let id = take()
        guard (try? socket.send("PING \(id)\n")) != nil else { return }
        let deadline = Date().addingTimeInterval(Self.answerGrace)
        while let line = try? socket.readLine(until: deadline), line != "PONG \(id)" {}
    }

    private static func stream(_ field: ArraySlice<UInt8>) -> ExecStream? {
        field.elementsEqual([0x31]) ? .stdout : field.elementsEqual([0x32]) ? .stderr : nil
    }
}

/// Sends a command's stdin as `IN <id> <base64>` frames from a thread of its own (the input may
/// block), then `EOF <id>`. Once the command has ended, `finish` sends the EOF if it is not sent
/// yet and no frame follows it: the guest takes frames up to that EOF, so none is read as a
/// request.
final class StdinPump: @unchecked Sendable {
    private let socket: UnixSocket
    private let id: Int
    private let input: ExecInput
    /// True once EOF went out; frames are sent only while it is false, under the lock.
    private let ended = Mutex(false)

    init(socket: UnixSocket, id: Int, input: ExecInput) {
        self.socket = socket
        self.id = id
        self.input = input
    }

    func start() {
        let thread = Thread { [self] in
            // Not another read once the command has ended (the input may be gone by then).
            while !ended.withLock({ $0 }), let chunk = input.read() {
                if chunk.isEmpty { continue }
                // 48 KiB of input a frame: 64 KiB lines for the guest.
                var offset = 0
                while offset < chunk.count {
                    let end = min(chunk.count, offset + 48 << 10)
                    let frame = "IN \(id) \(Data(chunk[offset..<end]).base64EncodedString())\n"
                    let sent: Bool = ended.withLock { done in
                        guard !done else { return false }
                        return (try? socket.send(frame)) != nil
                    }
                    guard sent else { return }
                    offset = end
                }
            }
            finish()
        }
        thread.start()
    }

    /// Sends a control line of the same request (`RESIZE`) between frames, never after the EOF.
    func send(control line: String) {
        ended.withLock { done in
            guard !done else { return }
            try? socket.send(line)
        }
    }

    func finish() {
        ended.withLock { done in
            guard !done else { return }
            done = true
            try? socket.send("EOF \(id)\n")
        }
    }
}
