// stasis-bench: benchmark helpers for Stasis (synthetic images, hashing and LZ4 ceilings).

import ArgumentParser
import Foundation

@main
struct StasisBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stasis-bench",
        abstract: "Benchmark helpers for the Stasis checkpoint store.",
        subcommands: [GenImage.self, Analyze.self, HashBench.self, LZ4Bench.self, HistoryBench.self, SandboxBench.self, ExecBench.self]
    )
}

/// Parses sizes like 4096, 64K, 64M, 1G, 1GiB, 1.5G (binary multiples).
func parseSize(_ text: String) throws -> Int64 {
    var s = text.trimmingCharacters(in: .whitespaces).uppercased()
    var mult: Double = 1
    for (suffix, m) in [("K", 1024.0), ("M", 1_048_576.0), ("G", 1_073_741_824.0), ("T", 1_099_511_627_776.0)] {
        if s.hasSuffix(suffix + "IB") { s.removeLast(3); mult = m; break }
        if s.hasSuffix(suffix + "B") { s.removeLast(2); mult = m; break }
        if s.hasSuffix(suffix) { s.removeLast(1); mult = m; break }
    }
    guard let v = Double(s), v >= 0 else { throw ValidationError("invalid size '\(text)'") }
    return Int64(v * mult)
}

/// Prints `value` as one line of JSON (sorted keys) on stdout.
func printJSONLine<T: Encodable>(_ value: T) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try enc.encode(value)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// Monotonic seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
