import Foundation
import Synchronization

/// Runs Resources/fault_proxy.py in front of the test SeaweedFS: the first `count` requests get a
/// 503 SlowDown, or have their response body cut in half. Stopped by closing its stdin.
public final class FaultProxy: @unchecked Sendable {
    public enum Mode: String, Sendable { case status503, cut }

    public let port: Int
    private let process = Process()
    private let input = Pipe()

    public init(upstreamHost: String, upstreamPort: Int, mode: Mode, count: Int) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Resources/fault_proxy.py").path
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, upstreamHost, String(upstreamPort), mode.rawValue, String(count)]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // The first line is the port it listens on.
        var line = Data()
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data([0x0a]) { break }
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "fault_proxy.py did not print its port"])
        }
        self.port = port
        // Read the progress lines ("served N disturbed M"), so the proxy never blocks on a full
        // pipe and a test can see how many requests reached it.
        let reader = output.fileHandleForReading
        let counter = servedCounter
        Thread.detachNewThread {
            var pending = ""
            while case let data = reader.availableData, !data.isEmpty {
                pending += String(decoding: data, as: UTF8.self)
                while let newline = pending.firstIndex(of: "\n") {
                    let line = pending[..<newline].split(separator: " ")
                    if line.count >= 2, line[0] == "served", let n = Int(line[1]) { counter.value.withLock { $0 = n } }
                    pending = String(pending[pending.index(after: newline)...])
                }
            }
        }
    }

    private final class Counter: Sendable { let value = Mutex(0) }
    private let servedCounter = Counter()

    /// Requests answered so far (passed through or disturbed).
    public var served: Int { servedCounter.value.withLock { $0 } }

    /// `served`, once it has reached `count` (the proxy reports after answering, so a client can
    /// be done before the report arrives) or after two minutes, whichever comes first.
    public func served(reaching count: Int) async -> Int {
        let deadline = ContinuousClock.now + .seconds(120)
        while served < count, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return served
    }

    public func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
