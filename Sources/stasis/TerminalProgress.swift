import Foundation
import Synchronization
import StasisStore

/// A progress bar on stderr, redrawn at most ten times a second; nothing when stderr is not a
/// terminal (scripts and CI logs stay clean).
final class TerminalProgress: ProgressReporter {
    private struct State {
        var phase = ""
        var total: Int64 = 0
        var done: Int64 = 0
        var started = Date()
        var lastDraw = Date.distantPast
    }
    private let state = Mutex(State())

    static func ifTerminal() -> any ProgressReporter {
        isatty(2) != 0 ? TerminalProgress() : SilentProgress()
    }

    func begin(_ phase: String, total: Int64) {
        state.withLock { $0 = State(phase: phase, total: total, started: Date()) }
    }

    func advance(by bytes: Int64) {
        let line: String? = state.withLock { s in
            s.done += bytes
            let now = Date()
            guard now.timeIntervalSince(s.lastDraw) >= 0.1 else { return nil }
            s.lastDraw = now
            return Self.render(s, now: now)
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
    }

    func end() {
        let line = state.withLock { s -> String? in
            guard s.lastDraw != .distantPast else { return nil }
            s.done = s.total
            return Self.render(s, now: Date()) + "\n"
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
    }

    private static func render(_ s: State, now: Date) -> String {
        let fraction = s.total > 0 ? min(1, Double(s.done) / Double(s.total)) : 1
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let elapsed = max(0.001, now.timeIntervalSince(s.started))
        let rate = Double(s.done) / elapsed
        return String(format: "\r%@ %@ %3.0f%% %@ of %@, %@/s ", s.phase, bar, fraction * 100,
                      ByteCount.format(s.done), ByteCount.format(s.total), ByteCount.format(Int64(rate)))
    }
}
