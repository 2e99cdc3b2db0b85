import Foundation
import StasisJSON

/// Turns history events into what a terminal would have shown: commands with a prompt, their
/// output, exits, tool calls, messages, and checkpoints and restores as markers on the timeline.
public struct ReplayRenderer: Sendable {
    public var styled: Bool
    /// Longest pause between two frames, in seconds (like asciinema's idle limit): a session
    /// that sat idle for an hour replays without the hour.
    public var maxPause: Double

    public init(styled: Bool = true, maxPause: Double = 3) {
        self.styled = styled
        self.maxPause = maxPause
    }

    private func style(_ code: String, _ text: String) -> String {
        styled ? "\u{1b}[\(code)m\(text)\u{1b}[0m" : text
    }

    /// Frames for `events` (in order). `resolve` turns a value kept as a blob back into text.
    public func frames(_ events: [HistoryEvent], resolve: (JSONValue) -> String? = { $0.stringValue }) -> [ReplayFrame] {
        guard let start = events.first?.time else { return [] }
        var frames: [ReplayFrame] = []
        var clock = 0.0
        var previous = start
        for e in events {
            let gap = max(0, Double(e.time - previous) / 1e9)
            clock += min(gap, maxPause)
            previous = e.time
            frames.append(ReplayFrame(seq: e.seq, kind: e.kind, offset: clock, text: text(e, resolve: resolve)))
        }
        return frames
    }

    func text(_ e: HistoryEvent, resolve: (JSONValue) -> String?) -> String {
        func field(_ name: String) -> String { e.data[name].flatMap(resolve) ?? e.data[name]?.canonicalString ?? "" }
        switch e.kind {
        case .commandStarted:
            return style("1;32", "$") + " " + field("command") + "\r\n"
        case .output:
            // Output that was not UTF-8 is stored as base64 (Formats/history.md): shown decoded.
            var raw = field("data")
            if e.data["encoding"]?.stringValue == "base64", let bytes = Data(base64Encoded: raw) { raw = String(decoding: bytes, as: UTF8.self) }
            let data = raw.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
            return field("stream") == "stderr" ? style("31", data) : data
        case .commandExited:
            let code = e.data["code"]?.intValue ?? 0
            let duration = e.data["duration_ms"]?.doubleValue.map { String(format: " after %.2fs", $0 / 1000) } ?? ""
            return style(code == 0 ? "2" : "1;31", "[exit \(code)\(duration)]") + "\r\n"
        case .fileWritten:
            let size = e.data["size"]?.intValue.map { " (\($0) bytes)" } ?? ""
            return style("36", "✎ wrote \(field("path"))\(size)") + "\r\n"
        case .toolCall:
            let args = e.data["arguments"].map { " " + ($0.stringValue ?? $0.canonicalString) } ?? ""
            return style("35", "⚙ \(field("name"))\(args)") + "\r\n"
        case .toolResult:
            let result = e.data["result"].map { $0.stringValue ?? $0.canonicalString } ?? ""
            return style("35", "→ \(field("name")): ") + Self.clip(result, 2000) + "\r\n"
        case .message:
            let content = e.data["content"].map { resolve($0) ?? $0.canonicalString } ?? ""
            return style("1;34", "[\(field("role"))]") + " " + content.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n"
        case .checkpoint:
            return style("1;33", "── checkpoint \(field("checkpoint").prefix(12)) at event \(e.seq) ──") + "\r\n"
        case .restore:
            let sandbox = e.data["sandbox"].map { " into \(resolve($0) ?? $0.canonicalString)" } ?? ""
            return style("1;33", "── restored from checkpoint \(field("checkpoint").prefix(12))\(sandbox) ──") + "\r\n"
        case .note:
            return style("2", "# \(field("text"))") + "\r\n"
        default:
            // A namespaced kind: its name, then its fields as they are (long values clipped).
            let fields = e.data.keys.sorted().map { k in "\(k)=" + Self.clip(e.data[k].flatMap(resolve) ?? e.data[k]!.canonicalString, 500) }
            return style("36", "[\(e.kind.rawValue)]") + (fields.isEmpty ? "" : " " + fields.joined(separator: " ").replacingOccurrences(of: "\n", with: "\r\n")) + "\r\n"
        }
    }

    static func clip(_ s: String, _ n: Int) -> String {
        s.count <= n ? s : String(s.prefix(n)) + "…"
    }
}
