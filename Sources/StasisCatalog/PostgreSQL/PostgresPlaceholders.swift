import Foundation

/// Rewrites `?` placeholders as PostgreSQL's `$1, $2, …`, leaving quoted text alone, so that one
/// SQL text serves both engines; and cuts a script into statements (the extended protocol that
/// postgres-nio speaks takes one statement at a time).
enum PostgresPlaceholders {
    /// The statements of a script, split at semicolons outside quotes and `--` comments.
    static func statements(_ script: String) -> [String] {
        var out: [String] = []
        var current = ""
        var quote: Character?
        var inComment = false
        var previous: Character = " "
        for ch in script {
            if inComment {
                if ch == "\n" { inComment = false; current.append(ch) }
                previous = ch
                continue
            }
            if let q = quote {
                current.append(ch)
                if ch == q { quote = nil }
            } else if ch == "-" && previous == "-" {
                current.removeLast()
                inComment = true
            } else if ch == "'" || ch == "\"" {
                quote = ch
                current.append(ch)
            } else if ch == ";" {
                let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !s.isEmpty { out.append(s) }
                current = ""
            } else {
                current.append(ch)
            }
            previous = ch
        }
        let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !s.isEmpty { out.append(s) }
        return out
    }

    static func rewrite(_ sql: String) -> String {
        guard sql.contains("?") else { return sql }
        var out = ""
        out.reserveCapacity(sql.utf8.count + 8)
        var n = 0
        var quote: Character?
        for ch in sql {
            if let q = quote {
                out.append(ch)
                if ch == q { quote = nil }
            } else if ch == "'" || ch == "\"" {
                quote = ch
                out.append(ch)
            } else if ch == "?" {
                n += 1
                out += "$\(n)"
            } else {
                out.append(ch)
            }
        }
        return out
    }
}
