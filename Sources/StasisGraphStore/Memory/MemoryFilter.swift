import StasisJSON

/// LangGraph's `search(filter=…)` over a memory's JSON value, as `InMemoryStore` and
/// `PostgresStore` read it: each filter key names a top-level field of the value, and its
/// wanted value is either
/// - a JSON value the field must equal (objects field by field, arrays element by element,
///   numbers by value: 1 equals 1.0; a missing field equals null), or
/// - an object of operators, all of which must hold: `$eq`, `$ne` (any JSON operand, compared
///   as above) and `$gt`, `$gte`, `$lt`, `$lte` (a number operand; a field that is not a number
///   does not match, as in PostgreSQL's JSONB).
struct MemoryFilter: Sendable {
    static let operators: Set<String> = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]

    let conditions: [String: JSONValue]

    /// Checks the filter's shape; the error names the key and what is wrong.
    init(_ conditions: [String: JSONValue], field: String) throws(GraphError) {
        for (key, wanted) in conditions {
            guard case .object(let object) = wanted, object.keys.contains(where: { $0.hasPrefix("$") }) else { continue }
            for (op, operand) in object {
                guard Self.operators.contains(op) else {
                    throw .invalidArgument(field: "\(field).\(key)", reason: "unknown operator \"\(op)\"; use one of $eq, $ne, $gt, $gte, $lt, $lte (an object mixing operators and fields is not a filter)")
                }
                if op != "$eq", op != "$ne", Self.number(operand) == nil {
                    throw .invalidArgument(field: "\(field).\(key).\(op)", reason: "needs a number, not \(operand.typeName)")
                }
            }
        }
        self.conditions = conditions
    }

    func matches(_ value: [String: JSONValue]) -> Bool {
        conditions.allSatisfy { key, wanted in Self.compare(value[key] ?? .null, wanted) }
    }

    static func compare(_ have: JSONValue, _ wanted: JSONValue) -> Bool {
        switch wanted {
        case .object(let object) where object.keys.contains(where: { $0.hasPrefix("$") }):
            return object.allSatisfy { op, operand in apply(op, have, operand) }
        case .object(let object):
            guard case .object(let fields) = have else { return false }
            return object.allSatisfy { k, v in compare(fields[k] ?? .null, v) }
        case .array(let elements):
            guard case .array(let items) = have, items.count == elements.count else { return false }
            return zip(items, elements).allSatisfy { compare($0, $1) }
        default:
            return MetadataFilter.equal(have, wanted)
        }
    }

    static func apply(_ op: String, _ have: JSONValue, _ operand: JSONValue) -> Bool {
        switch op {
        case "$eq": return MetadataFilter.equal(have, operand)
        case "$ne": return !MetadataFilter.equal(have, operand)
        default:
            guard let x = number(have), let y = number(operand) else { return false }
            switch op {
            case "$gt": return x > y
            case "$gte": return x >= y
            case "$lt": return x < y
            default: return x <= y
            }
        }
    }

    /// A JSON number's value; nil for anything else (booleans included).
    static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }
}
