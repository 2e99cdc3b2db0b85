import StasisJSON
import StasisSessions

/// One-line summaries of events for `history show`.
enum EventText {
    static func summary(_ e: HistoryEvent) -> String {
        func f(_ k: String) -> String {
            guard let v = e.data[k] else { return "" }
            if let s = v.stringValue { return s }
            if let size = v["size"]?.intValue, v["$blob"] != nil { return "<\(size) bytes in blob \(v["$blob"]!.stringValue!.prefix(12))>" }
            return v.canonicalString
        }
        let text: String
        switch e.kind {
        case .commandStarted: text = "$ " + f("command")
        case .output: text = "[\(f("stream"))\(e.data["encoding"] != nil ? ", " + f("encoding") : "")] " + f("data")
        case .commandExited: text = "exit \(f("code"))" + (e.data["duration_ms"] != nil ? " after \(f("duration_ms")) ms" : "")
        case .fileWritten: text = f("path") + (e.data["size"] != nil ? " (\(f("size")) bytes)" : "")
        case .toolCall: text = f("name") + (e.data["arguments"] != nil ? " " + f("arguments") : "")
        case .toolResult: text = f("name") + " → " + f("result")
        case .message: text = "[\(f("role"))] " + f("content")
        case .checkpoint: text = f("checkpoint")
        case .restore: text = f("checkpoint") + (e.data["sandbox"] != nil ? " → " + f("sandbox") : "")
        case .note: text = f("text")
        default: text = e.data.keys.sorted().map { "\($0)=\(f($0))" }.joined(separator: " ")  // a namespaced kind
        }
        let flat = text.replacingOccurrences(of: "\n", with: "⏎")
        return flat.count > 160 ? String(flat.prefix(160)) + "…" : flat
    }
}
