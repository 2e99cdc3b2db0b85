import ArgumentParser
import Foundation
import StasisSessions
import StasisStore

/// How commands print results and failures: human text, or one JSON document on stdout.
enum CommandOutput {
    static func json<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        print(String(decoding: data, as: UTF8.self))
    }

    static func line(_ text: String) { print(text) }

    static func warn(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Parses repeated `key=value` options.
    static func pairs(_ items: [String], option: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in items {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw ValidationError("\(option) takes NAME=VALUE, not '\(item)'")
            }
            result[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        return result
    }

    /// Runs a command body; its error (StoreError, HistoryError, SandboxError: each names what
    /// failed and what to do) becomes a message on stderr — and, with --json, a JSON object
    /// `{"error": MESSAGE, "code": CODE}` on stdout (`ErrorCode`) — and exit code 1 (or
    /// `exitCode(error)` when the command has its own).
    static func run<E: Error & CustomStringConvertible>(json: Bool, exitCode: (E) -> Int32 = { _ in 1 }, _ body: () throws(E) -> Void) throws {
        do {
            try body()
        } catch {
            if json { Self.json(["error": error.description, "code": ErrorCode.of(error)]) }
            warn("error: \(error.description)")
            throw ExitCode(exitCode(error))
        }
    }
}

/// Byte counts for people.
enum ByteCount {
    static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while abs(value) >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// Parses `4096`, `4K`, `64KiB`, `2M`, `1G`.
    static func parse(_ text: String) -> Int? {
        let s = text.trimmingCharacters(in: .whitespaces).uppercased()
        let suffixes: [(String, Int)] = [("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1)]
        for (suffix, mult) in suffixes where s.hasSuffix(suffix) {
            return Int(s.dropLast(suffix.count)).map { $0 * mult }
        }
        return Int(s)
    }
}
