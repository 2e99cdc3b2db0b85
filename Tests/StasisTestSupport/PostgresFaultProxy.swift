import Foundation
import Synchronization

/// Runs Resources/pg_fault_proxy.py in front of the test PostgreSQL: it relays every connection
/// unchanged until armed, then loses one COMMIT — before the server sees it, or after the server
/// answered it (optionally refusing every new connection from then on, until `up()`). Stopped
/// by closing its stdin.
public final class PostgresFaultProxy: @unchecked Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// The COMMIT never reaches the server: the transaction is rolled back.
        case dropCommit = "drop-commit"
        /// The server commits; its answer never reaches the client.
        case loseReply = "lose-reply"
        /// As `loseReply`, and the proxy refuses connections from then on, until `up()`.
        case loseReplyThenDown = "lose-reply-down"
    }

    public let port: Int
    private let process = Process()
    private let input = Pipe()
    private final class Counter: Sendable { let value = Mutex(0), acks = Mutex(0) }
    private let counter = Counter()
    private var sent = 0

    public init(upstreamHost: String, upstreamPort: Int) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Resources/pg_fault_proxy.py").path
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, upstreamHost, String(upstreamPort)]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var line = Data()
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data([0x0a]) { break }
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "pg_fault_proxy.py did not print its port"])
        }
        self.port = port
        let reader = output.fileHandleForReading
        let counter = self.counter
        Thread.detachNewThread {
            var pending = ""
            while case let data = reader.availableData, !data.isEmpty {
                pending += String(decoding: data, as: UTF8.self)
                while let newline = pending.firstIndex(of: "\n") {
                    let words = pending[..<newline].split(separator: " ")
                    if words.count == 2, words[0] == "disturbed", let n = Int(words[1]) { counter.value.withLock { $0 = n } }
                    if words == ["ack"] { counter.acks.withLock { $0 += 1 } }
                    pending = String(pending[pending.index(after: newline)...])
                }
            }
        }
    }

    /// Loses the next COMMIT of a transaction that ran a statement containing `pattern`.
    public func arm(_ mode: Mode, when pattern: String) { send("arm \(mode.rawValue) \(pattern)") }
    public func down() { send("down") }
    public func up() { send("up") }

    /// COMMITs lost so far (the proxy reports each once it has closed the connection).
    public var disturbed: Int { counter.value.withLock { $0 } }

    /// `disturbed` once it has reached `count`, or after ten seconds.
    public func disturbed(reaching count: Int) -> Int {
        let deadline = Date().addingTimeInterval(10)
        while disturbed < count, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return disturbed
    }

    public func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// Sends a command and waits until the proxy has taken it in.
    private func send(_ command: String) {
        sent += 1
        input.fileHandleForWriting.write(Data((command + "\n").utf8))
        let deadline = Date().addingTimeInterval(10)
        while counter.acks.withLock({ $0 }) < sent, Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
    }
}
