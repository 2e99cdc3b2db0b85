import Foundation
import StasisJSON

/// asciinema's asciicast v2 format: a JSON header line, then one `[time, "o", text]` line per
/// output frame (https://docs.asciinema.org/manual/asciicast/v2/ describes it).
public enum Asciicast {
    public static func encode(_ frames: [ReplayFrame], title: String, startTime: Int64, width: Int = 100, height: Int = 30) -> String {
        var lines: [String] = []
        let header: JSONValue = [
            "version": 2, "width": .int(Int64(width)), "height": .int(Int64(height)),
            "timestamp": .int(startTime / 1_000_000_000), "title": .string(title),
            "env": ["TERM": "xterm-256color", "SHELL": "/bin/sh"],
        ]
        lines.append(header.canonicalString)
        for f in frames where !f.text.isEmpty {
            let t = (f.offset * 1_000_000).rounded() / 1_000_000
            lines.append(JSONValue.array([.double(t), "o", .string(f.text)]).canonicalString)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
