import StasisJSON

/// LangGraph's metadata filter: every key must be present with an equal value. Numbers compare by
/// value (1 == 1.0), as Python's `==` does.
enum MetadataFilter {
    /// True when every filter key is present in `metadata` with an equal value.
    static func matches(_ metadata: [String: JSONValue], _ filter: [String: JSONValue]) -> Bool {
        for (key, wanted) in filter {
            guard let have = metadata[key], equal(have, wanted) else { return false }
        }
        return true
    }

    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if a == b { return true }
        if let x = a.doubleValue, let y = b.doubleValue, a.stringValue == nil, b.stringValue == nil { return x == y }
        if case .object(let x) = a, case .object(let y) = b {
            return x.count == y.count && x.allSatisfy { k, v in y[k].map { equal(v, $0) } ?? false }
        }
        if case .array(let x) = a, case .array(let y) = b {
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        }
        return false
    }
}
