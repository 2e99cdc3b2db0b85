import ArgumentParser
import Foundation
import StasisJSON
import StasisRestore
import StasisSandbox
import StasisSessions
import StasisStore

/// `stasis-bench exec`: what a command costs through a real microVM's agent. The round trip of
/// `true` (p50/p90 over `--runs`), through the driver alone and through `SandboxService.exec`
/// (which also records the command in the history, as `stasis exec` does); then the streaming
/// throughput of `--mib` MiB of stdout (zeros, and random bytes made before the clock starts),
/// counted on the host, through the driver alone and through the service (with the history). One JSON line per measurement.
struct ExecBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Exec round trip and output streaming benchmark.")

    @Option(help: "Round trips of `true` to time.") var runs = 200
    @Option(help: "MiB of output to stream per throughput run.") var mib = 100
    @Option(help: "Throughput runs per kind of data.") var streams = 3
    @Option(help: "Guest memory in MiB (the random data sits in tmpfs).") var memory: Int64 = 512
    @Option(help: "Work directory (default: a temporary one, removed afterwards).") var work: String?

    func emit(_ o: [String: JSONValue]) {
        print(JSONValue.object(o).canonicalString)
        fflush(nil)
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    func run() throws {
        let dir = work ?? NSTemporaryDirectory() + "stasis-exec-bench-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        defer { if work == nil { try? FileManager.default.removeItem(atPath: dir) } }
        let store = try ContentStore.create(at: dir + "/store")
        let service = SandboxService(sessions: SessionStore(store: store), sandboxesDirectory: dir + "/sandboxes")
        defer { for r in service.list() { try? service.driver.stop(SandboxDirectory(path: r.directory)) } }
        let running = try service.run(memoryBytes: memory << 20, diskBytes: 256 << 20)
        let sandboxDir = SandboxDirectory(path: running.directory)
        for _ in 0..<5 { _ = try service.exec(running.session, "true") }

        for (path, name) in [(false, "driver"), (true, "service")] {
            var times: [Double] = []
            for _ in 0..<runs {
                let t = Date()
                if path { _ = try service.exec(running.session, ExecRequest(argv: ["true"])) } else {
                    _ = try service.driver.exec(sandboxDir, ExecRequest(command: "true")) { (_, _) throws(SandboxError) in }
                }
                times.append(Date().timeIntervalSince(t) * 1000)
            }
            emit(["measure": "exec_true_ms", "path": .string(name), "runs": .int(Int64(runs)), "accelerator": .string(running.accelerator),
                  "p50": .double((Self.percentile(times, 0.5) * 100).rounded() / 100), "p90": .double((Self.percentile(times, 0.9) * 100).rounded() / 100)])
        }

        let bytes = mib << 20
        _ = try service.exec(running.session, "head -c \(bytes) /dev/urandom > /tmp/random", timeout: 1800)
        // Through the driver alone (the transport), and through the service (which also writes
        // every byte into the history, as `stasis exec` does).
        for (kind, command) in [("zeros", "head -c \(bytes) /dev/zero"), ("random", "cat /tmp/random")] {
            for (path, name) in [(false, "driver"), (true, "service")] {
                for _ in 0..<streams {
                    var received = 0
                    let t = Date()
                    let request = ExecRequest(command: command, timeout: 1800)
                    let count = { (_: ExecStream, chunk: [UInt8]) throws(SandboxError) in received += chunk.count }
                    let status = path ? try service.exec(running.session, request, output: count) : try service.driver.exec(sandboxDir, request, output: count)
                    let seconds = Date().timeIntervalSince(t)
                    guard status.exitCode == 0, received == bytes else { throw ValidationError("\(kind): \(received) of \(bytes) bytes, exit \(status.exitCode)") }
                    emit(["measure": "exec_stream", "data": .string(kind), "path": .string(name), "bytes": .int(Int64(bytes)), "seconds": .double((seconds * 1000).rounded() / 1000),
                          "mib_per_s": .double((Double(bytes) / 1_048_576 / seconds * 10).rounded() / 10), "accelerator": .string(running.accelerator)])
                }
            }
        }
    }
}
