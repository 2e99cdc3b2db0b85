import StasisJSON

/// What full-text search sees of an event, and how a query is read: both engines get the same
/// words, so SQLite (FTS5) and PostgreSQL (tsvector) answer a query alike (Formats/history.md,
/// "Full-text search").
public enum SearchText {
    /// Characters of an event's text that are indexed (the first ones). PostgreSQL refuses a
    /// tsvector over 1 MiB; 128 Ki characters of distinct short words stay below it.
    public static let indexedCharacters = 131_072

    /// The string values of an event's data, anywhere in it, joined by spaces; a value kept in
    /// the blob store (`{"$blob": ID, "size": N}`) is indexed from `resolved` when the caller
    /// still has it (an append), and left out otherwise. Keys are not indexed, nor binary output.
    static func of(_ data: [String: JSONValue], resolved: [String: String] = [:]) -> String {
        var parts: [String] = []
        func walk(_ value: JSONValue) {
            if let s = value.stringValue { parts.append(s); return }
            if let o = value.objectValue {
                if o["$blob"] != nil { return }
                for key in o.keys.sorted() { walk(o[key]!) }
            } else if let a = value.arrayValue {
                a.forEach(walk)
            }
        }
        // Output that was not text is kept as base64 (`"encoding": "base64"`): its letters are
        // not words anyone searches for, and indexing them only fills the index.
        let binary = data["encoding"]?.stringValue == "base64"
        for key in data.keys.sorted() where !(binary && key == "data") {
            if let full = resolved[key] { parts.append(full) } else { walk(data[key]!) }
        }
        return capped(parts.joined(separator: " "))
    }

    /// The first `indexedCharacters` characters, NUL written as a space (PostgreSQL text cannot
    /// hold NUL; neither engine indexes it).
    static func capped(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars.prefix(indexedCharacters) {
            scalars.append(scalar == "\0" ? " " : scalar)
        }
        return String(scalars)
    }
}

/// A search as typed: words (all must occur), `"quoted phrases"` (words in that order) and
/// `prefix*`. Words are runs of letters and digits, compared without case; everything else
/// separates them, in the query as in the indexed text.
public struct SearchQuery: Sendable, Equatable {
    public enum Term: Sendable, Equatable {
        case word(String)
        case prefix(String)
        case phrase([String])
    }

    public var terms: [Term]

    /// Reads a query; nil when it holds no word (nothing to search for).
    public init?(_ text: String) {
        var terms: [Term] = []
        var rest = Substring(text)
        while let quote = rest.firstIndex(of: "\"") {
            terms += Self.loose(rest[..<quote])
            let afterQuote = rest.index(after: quote)
            let close = rest[afterQuote...].firstIndex(of: "\"") ?? rest.endIndex
            let words = Self.words(rest[afterQuote..<close])
            if words.count == 1 { terms.append(.word(words[0])) } else if !words.isEmpty { terms.append(.phrase(words)) }
            rest = close == rest.endIndex ? "" : rest[rest.index(after: close)...]
        }
        terms += Self.loose(rest)
        guard !terms.isEmpty else { return nil }
        self.terms = terms
    }

    /// Words outside quotes; a word directly followed by `*` is a prefix.
    private static func loose(_ text: Substring) -> [Term] {
        var terms: [Term] = []
        for token in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            let isPrefix = token.hasSuffix("*")
            let words = Self.words(token)
            for (i, w) in words.enumerated() {
                terms.append(isPrefix && i == words.count - 1 ? .prefix(w) : .word(w))
            }
        }
        return terms
    }

    static func words<S: StringProtocol>(_ text: S) -> [String] {
        text.split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map { $0.lowercased() }
    }

    /// The FTS5 query: every term quoted (so no word is read as an operator), implicit AND.
    var fts5: String {
        terms.map { term in
            switch term {
            case .word(let w): "\"\(w)\""
            case .prefix(let w): "\"\(w)\"*"
            case .phrase(let ws): "\"\(ws.joined(separator: " "))\""
            }
        }.joined(separator: " ")
    }

    /// The PostgreSQL `to_tsquery('simple', …)` text. Words hold only letters and digits, so
    /// none needs quoting.
    var tsquery: String {
        terms.map { term in
            switch term {
            case .word(let w): w
            case .prefix(let w): "\(w):*"
            case .phrase(let ws): "(" + ws.joined(separator: " <-> ") + ")"
            }
        }.joined(separator: " & ")
    }

    /// The words to look for when cutting a snippet.
    var highlightWords: [String] {
        terms.flatMap { term -> [String] in
            switch term {
            case .word(let w), .prefix(let w): [w]
            case .phrase(let ws): ws
            }
        }
    }
}
