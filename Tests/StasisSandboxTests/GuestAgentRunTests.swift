import Foundation
import Testing
@testable import StasisSandbox

/// The host side of `RUN` against a scripted agent on a real Unix socket: an agent from before
/// `RUN` still runs the command (with `EXEC`); an answer whose byte counts do not match what
/// arrived is an error, never a short output; stdin frames end with exactly one EOF.
@Suite("GuestAgent RUN against a scripted agent")
struct GuestAgentRunTests {
    /// Serves one connection: for each request line, `answer` gives the lines to send back.
    final class ScriptedAgent: @unchecked Sendable {
        let path = NSTemporaryDirectory() + "agent-\(UInt32.random(in: 0...UInt32.max)).sock"
        private let listener: Int32
        private let lock = NSLock()
        private var seen: [String] = []
        var received: [String] { lock.withLock { seen } }

        init(answer: @escaping @Sendable (String) -> [String]) throws {
            listener = try UnixSocket.listen(at: path)
            let fd = listener
            Thread { [self] in
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                defer { close(client) }
                var pending: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress!, $0.count, 0) }
                    guard n > 0 else { return }
                    pending += buffer[0..<n]
                    while let nl = pending.firstIndex(of: 0x0A) {
                        let line = String(decoding: pending[..<nl], as: UTF8.self)
                        pending.removeFirst(nl + 1)
                        lock.withLock { seen.append(line) }
                        for reply in answer(line) { _ = (reply + "\n").withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
                    }
                }
            }.start()
        }
        deinit { close(listener); unlink(path) }
    }

    static func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    @Test("an agent from before RUN: the command runs with EXEC and its output is delivered")
    func oldAgent() throws {
        let agent = try ScriptedAgent { line in
            let parts = line.split(separator: " ")
            switch parts.first {
            case "DEADLINE": return ["OK DEADLINE"]
            case "RUNB": return ["ERR - \(Self.b64("unknown request: RUNB"))"]
            case "RUN": return ["ERR - \(Self.b64("unknown request: RUN"))"]
            case "EXEC": return ["RESULT \(parts[1]) 3 \(Self.b64("out\n")) \(Self.b64("err\n")) 4 4"]
            default: return []
            }
        }
        let client = try GuestAgent(path: agent.path, timeout: 5)
        var out: [UInt8] = [], err: [UInt8] = []
        let r = try client.run("echo out; echo err >&2; exit 3", stdin: nil, timeout: 10) { (stream, chunk) throws(SandboxError) in
            if stream == .stdout { out += chunk } else { err += chunk }
        }
        #expect(r.exitCode == 3 && out == Array("out\n".utf8) && err == Array("err\n".utf8))
        // The deadline went once, before RUNB; RUN and then EXEC rely on it.
        #expect(agent.received.map { String($0.prefix(4)) } == ["DEAD", "RUNB", "RUN ", "EXEC"])
        // Stdin cannot go to such an agent: refused, not dropped.
        let again = try ScriptedAgent { $0.hasPrefix("RUN") ? ["ERR - \(Self.b64("unknown request: RUN"))"] : [] }
        let second = try GuestAgent(path: again.path, timeout: 5)
        #expect(throws: SandboxError.self) { _ = try second.run("cat", stdin: .bytes([1]), timeout: 10) { (_, _) throws(SandboxError) in } }
    }

    @Test("byte counts that do not match what arrived are a transport error")
    func shortAnswer() throws {
        let agent = try ScriptedAgent { line in
            let parts = line.split(separator: " ")
            guard parts.first == "RUNB" else { return [] }
            return ["OUT \(parts[1]) 1 \(Self.b64("abc"))", "END \(parts[1]) 0 5 0 0"]
        }
        let client = try GuestAgent(path: agent.path, timeout: 5)
        do throws(SandboxError) {
            _ = try client.run("seq 5", stdin: nil, timeout: 10) { (_, _) throws(SandboxError) in }
            Issue.record("a short answer was accepted")
        } catch {
            guard case .garbled(let m) = error else { Issue.record("got \(error)"); return }
            #expect(m.contains("3 of 5 stdout bytes"))
        }
    }

    @Test("binary frames: raw bytes of the stated length, newlines and frame-like text included")
    func binaryFrames() throws {
        // Text that looks like frames, ending in a newline (the scripted agent sends strings; the
        // 100 MiB microVM test sends every byte value).
        let payload = Array("line\nOUT 1 1 QUFB\nEND x\n\n".utf8)
        let agent = try ScriptedAgent { line in
            let parts = line.split(separator: " ")
            guard parts.first == "RUNB" else { return [] }
            // The body follows its header line byte for byte (the scripted agent ends each
            // reply with a newline, so the body's own last byte is sent without one).
            let body = String(decoding: payload.dropLast(), as: UTF8.self)
            return ["OUTB \(parts[1]) 1 \(payload.count)\n\(body)", "OUTB \(parts[1]) 2 0", "END \(parts[1]) 0 \(payload.count) 0 0"]
        }
        let client = try GuestAgent(path: agent.path, timeout: 5)
        var out: [UInt8] = []
        let r = try client.run("cat blob", stdin: nil, timeout: 10) { (stream, chunk) throws(SandboxError) in
            if stream == .stdout { out += chunk }
        }
        #expect(r.exitCode == 0 && r.stdoutBytes == Int64(payload.count))
        #expect(out == payload)
    }

    @Test("stdin goes as IN frames and exactly one EOF, also when END comes first")
    func stdinFrames() throws {
        let agent = try ScriptedAgent { line in
            let parts = line.split(separator: " ")
            switch parts.first {
            case "RUN": return ["OUT \(parts[1]) 1 \(Self.b64("x"))", "END \(parts[1]) 0 1 0 0"]
            case "PING": return ["PONG \(parts[1])"]
            default: return []
            }
        }
        let client = try GuestAgent(path: agent.path, timeout: 5)
        let big = [UInt8](repeating: 7, count: 200_000)
        let r = try client.run("head -c 1", stdin: .bytes(big), timeout: 10) { (_, _) throws(SandboxError) in }
        #expect(r.exitCode == 0)
        // The EOF comes once, and last but for the PING that run() waits on before it returns
        // (a guest that answers it has taken every frame before: nothing is lost on disconnect).
        let lines = agent.received
        #expect(lines.filter { $0.hasPrefix("EOF ") }.count == 1 && lines.dropLast().last?.hasPrefix("EOF ") == true, "\(lines.suffix(3))")
        #expect(lines.last?.hasPrefix("PING ") == true)
        let frames = lines.filter { $0.hasPrefix("IN ") }.compactMap { Data(base64Encoded: String($0.split(separator: " ")[2])) }
        #expect(frames.reduce(0) { $0 + $1.count } <= big.count)
    }
}
