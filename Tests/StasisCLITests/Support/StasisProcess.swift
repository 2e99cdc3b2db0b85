import Foundation
import StasisStoreTestSupport

/// Runs the real `stasis` binary as a child process, as a user or a script would.
struct StasisProcess {
    struct Result {
        var status: Int32
        /// True when the process was killed by a signal (status then holds the signal number).
        var signaled: Bool
        var stdout: String
        var stderr: String
        var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any]
        }
    }

    /// The binary built next to the test bundle (override with STASIS_BIN).
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["STASIS_BIN"] { return path }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        for candidate in [url.path + "/.build/debug/stasis", url.path + "/.build/release/stasis"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return "stasis"
    }

    static func start(_ arguments: [String], environment: [String: String] = [:], executable: String? = nil, input: Data? = nil) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable ?? binary)
        // On a fleet run (STASIS_TEST_CATALOG=postgres) every store the tests create is a fleet
        // store, with the credentials in the environment as an operator would have them.
        var arguments = arguments
        if arguments.first == "init", !arguments.contains("--catalog"), !arguments.contains("--help") {
            arguments += try TestStores.initArguments()
        }
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "STASIS_STORE")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = input.map { _ in Pipe() }
        process.standardInput = stdin ?? FileHandle.nullDevice
        try process.run()
        if let stdin, let input {
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
        }
        return (process, out, err)
    }

    static func finish(_ started: (Process, Pipe, Pipe)) -> Result {
        let (process, out, err) = started
        // Drain both pipes before waiting, so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                      stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:], input: Data? = nil) throws -> Result {
        finish(try start(arguments, environment: environment, input: input))
    }
}

/// A temporary directory removed at the end of the test.
final class Scratch {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "stasis-cli-" + UUID().uuidString.prefix(8)
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// Deterministic test images: mixed random, zero, repeated and text-like 4 KiB pages.
enum ImageBytes {
    static func make(pages: Int, seed: UInt64) -> [UInt8] {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var words = [UInt64](repeating: 0, count: pages * 512)
        var p = 0
        while p < pages {
            let run = Int(next() % 16) + 1, kind = next() % 4
            for q in p..<min(pages, p + run) {
                for i in 0..<512 {
                    switch kind {
                    case 0: break
                    case 1: words[q * 512 + i] = next()
                    case 2: words[q * 512 + i] = UInt64(i) &* 0x0101_0101_0101_0101 &+ UInt64(q % 3)
                    default: words[q * 512 + i] = 0x2020_6574_6167_6170 &+ (next() % 8)
                    }
                }
            }
            p += run
        }
        return words.withUnsafeBytes { [UInt8]($0) }
    }

    static func write(_ bytes: [UInt8], to path: String) {
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    static func read(_ path: String) -> [UInt8] {
        [UInt8](FileManager.default.contents(atPath: path) ?? Data())
    }
}
