import Foundation
import StasisStoreTestSupport
import GRPCCore
import GRPCNIOTransportHTTP2
import StasisAPI

/// A real `stasis serve` child process on a fresh store, and gRPC clients to it.
final class DaemonProcess: @unchecked Sendable {
    let store: String
    let process: Process
    let socket: String
    private let stderr: Pipe

    /// The binary built next to the tests (override with STASIS_BIN).
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["STASIS_BIN"] { return path }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        for candidate in [url.path + "/.build/debug/stasis", url.path + "/.build/release/stasis"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return "stasis"
    }

    /// A new store on this run's backends, or with `initArguments` (a fleet store, a join).
    static func newStore(initArguments: [String]? = nil) throws -> String {
        let path = NSTemporaryDirectory() + "stasis-serve-" + UUID().uuidString.prefix(8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["init", "--store", path] + (try initArguments ?? TestStores.initArguments())
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TestFailure("stasis init failed") }
        return path
    }

    /// Starts the daemon and returns once it printed its `listening` line.
    init(store: String, arguments: [String] = []) throws {
        self.store = store
        socket = store + "/stasis.sock"
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", "--store", store] + arguments
        let out = Pipe()
        stderr = Pipe()
        process.standardOutput = out
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read until the listening line (or EOF: the daemon refused to start).
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("listening unix://") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty {
                process.waitUntilExit()
                throw TestFailure("stasis serve exited \(process.terminationStatus): \(String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
            }
            seen.append(chunk)
        }
    }

    func kill(_ signal: Int32) { Foundation.kill(process.processIdentifier, signal) }

    /// The daemon's peak resident memory so far (VmHWM).
    func peakResidentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") else {
            throw TestFailure("no VmHWM in /proc/\(process.processIdentifier)/status")
        }
        return kib << 10
    }

    /// Waits for the exit; returns (status, stderr).
    func wait() -> (Int32, String) {
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: err, as: UTF8.self))
    }

    func withCheckpointer<T: Sendable>(_ body: (Stasis_V1_Checkpointer.Client<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T {
        try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { client in
            try await body(Stasis_V1_Checkpointer.Client(wrapping: client))
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

enum Requests {
    static func bytes(_ n: Int, seed: UInt64) -> Data {
        var state = seed &+ 0x9E3779B97F4A7C15
        return Data((0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        })
    }

    static func put(thread: String, id: String, parent: String?, value: Data) -> Stasis_V1_PutRequest {
        var r = Stasis_V1_PutRequest()
        r.key.threadID = thread
        r.key.checkpointID = id
        r.parentCheckpointID = parent ?? ""
        r.checkpoint.type = "msgpack"
        r.checkpoint.data = Data("checkpoint \(id)".utf8)
        r.metadata.type = "msgpack"
        r.metadata.data = Data("metadata \(id)".utf8)
        r.metadataJson = "{\"step\": \(id.count)}"
        var v = Stasis_V1_ChannelVersion()
        v.channel = "messages"
        v.version = id
        r.versions = [v]
        var cv = Stasis_V1_ChannelValue()
        cv.channel = "messages"
        cv.version = id
        cv.value.type = "bytes"
        cv.value.data = value
        r.newValues = [cv]
        return r
    }
}
