import Foundation
import StasisJSON

/// The served timeline's first page: the sessions matching a filter, each a link to its
/// timeline. Plain HTML without script; every value from the catalog is escaped, and the
/// Content-Security-Policy forbids scripts anyway.
public enum TimelineIndexPage {
    public static let contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"

    /// `sessions` is what `timelineSessions` returns; `filter` the query as typed (shown back).
    public static func html(sessions: JSONValue, label: String, since: String, until: String, state: String) -> String {
        var rows = ""
        let f = ISO8601DateFormatter()
        for s in sessions.arrayValue ?? [] {
            let id = s["id"]?.stringValue ?? ""
            let created = s["created"]?.doubleValue.map { f.string(from: Date(timeIntervalSince1970: $0)) } ?? ""
            let labels = (s["labels"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
                .map { "<span class=\"label\">\(escape($0.key))=\(escape($0.value.stringValue ?? ""))</span>" }.joined(separator: " ")
            let running = s["sandbox"].flatMap { $0 == .null ? nil : $0["id"]?.stringValue }
            rows += "<tr><td><a href=\"/sessions/\(escape(id))\">\(escape(String(id.prefix(12))))</a></td><td>\(escape(created))</td>"
                + "<td>\(s["events"]?.intValue ?? 0)</td><td>\(s["checkpoints"]?.intValue ?? 0)</td>"
                + "<td>\(running.map { "running (" + escape($0) + ")" } ?? "idle")</td><td>\(labels)</td></tr>\n"
        }
        let states = ["", "running", "idle"].map { v in
            "<option value=\"\(v)\"\(v == state ? " selected" : "")>\(v.isEmpty ? "any state" : v)</option>"
        }.joined()
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="\(contentSecurityPolicy)">
            <title>Stasis sessions</title>
            <style>
            body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; } table { border-collapse: collapse; }
            td, th { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: left; } td:first-child { font-family: ui-monospace, monospace; }
            .label { font-family: ui-monospace, monospace; background: #eef; padding: 0 4px; border-radius: 3px; }
            </style></head><body>
            <h1>Sessions</h1>
            <form method="get" action="/" id="filter">
            <input name="label" placeholder="label: NAME=VALUE" value="\(escape(label))">
            <input name="since" placeholder="created since (RFC 3339)" value="\(escape(since))">
            <input name="until" placeholder="created until (RFC 3339)" value="\(escape(until))">
            <select name="state">\(states)</select> <button>Filter</button></form>
            <p>\((sessions.arrayValue ?? []).count) session(s). JSON: <code>/api/sessions</code>, <code>/api/search?q=</code>.</p>
            <table id="sessions"><tr><th>session</th><th>created</th><th>events</th><th>checkpoints</th><th>state</th><th>labels</th></tr>
            \(rows)</table></body></html>
            """
    }

    /// Text as HTML text or attribute value.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
