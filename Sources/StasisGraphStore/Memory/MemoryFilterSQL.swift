import StasisCatalog
import StasisJSON

/// A `MemoryFilter` as a SQL condition over an item's inline JSON value, for either engine, so
/// that a search reads only the rows it returns (instead of every item under the prefix).
///
/// The condition holds for every row the filter matches, and is never NULL (SQL's three-valued
/// logic would otherwise turn `$ne` into "neither"). When `exact` it holds for those rows only;
/// parts it cannot say in SQL (an `$eq`/`$ne` operand that is an object or an array, a field name
/// SQLite's JSON paths cannot spell) hold for every row, and `exact` is false: the search then
/// confirms each row with `MemoryFilter.matches`, as it does for rows whose value is not inline.
///
/// Semantics follow `MemoryFilter.compare`: numbers compare as doubles (1 equals 1.0; booleans
/// are not numbers), a missing field equals null, a wanted object is matched field by field
/// and a wanted array element by element.
struct MemoryFilterSQL {
    var sql: String
    var arguments: [CatalogValue]
    var exact: Bool

    /// The value a condition reads, by engine: SQLite's JSON functions take the row's BLOB as
    /// text; PostgreSQL reads a `doc` JSONB column the search's subquery parses once per row.
    static func document(_ engine: CatalogEngine) -> String {
        engine == .sqlite ? "CAST(inline_value AS TEXT)" : "doc"
    }

    init(_ filter: MemoryFilter, engine: CatalogEngine) {
        var builder = Builder(engine: engine)
        let parts = filter.conditions.sorted { $0.key < $1.key }.map { key, wanted in
            builder.compare(at: [.key(key)], wanted)
        }
        sql = parts.isEmpty ? builder.yes : parts.joined(separator: " AND ")
        arguments = builder.arguments
        exact = builder.exact
    }

    /// One step of a path into the value.
    enum Step {
        case key(String)
        case index(Int)
    }

    private struct Builder {
        let engine: CatalogEngine
        var arguments: [CatalogValue] = []
        var exact = true

        var yes: String { engine == .sqlite ? "1" : "TRUE" }
        var no: String { engine == .sqlite ? "0" : "FALSE" }

        /// `compare(have, wanted)` with `have` the node at `path` (missing: null).
        mutating func compare(at path: [Step], _ wanted: JSONValue) -> String {
            switch wanted {
            case .object(let object) where object.keys.contains(where: { $0.hasPrefix("$") }):
                let parts = object.sorted { $0.key < $1.key }.map { op, operand in apply(op, at: path, operand) }
                return "(" + parts.joined(separator: " AND ") + ")"
            case .object(let object):
                var parts = [isType(at: path, sqlite: ["object"], postgres: "object")]
                parts += object.sorted { $0.key < $1.key }.map { k, v in compare(at: path + [.key(k)], v) }
                return "(" + parts.joined(separator: " AND ") + ")"
            case .array(let elements):
                var parts = [arrayLength(at: path, elements.count)]
                parts += elements.enumerated().map { i, v in compare(at: path + [.index(i)], v) }
                return "(" + parts.joined(separator: " AND ") + ")"
            default:
                return equal(at: path, wanted)
            }
        }

        mutating func apply(_ op: String, at path: [Step], _ operand: JSONValue) -> String {
            switch op {
            case "$eq": return equal(at: path, operand)
            case "$ne":
                switch operand {
                case .object, .array:
                    exact = false
                    return yes
                default:
                    // A part SQL could not say holds for every row; its negation would hold for
                    // none, so an unsure equality makes the whole `$ne` unsure.
                    let before = exact
                    exact = true
                    let condition = equal(at: path, operand)
                    let said = exact
                    exact = before && said
                    return said ? "NOT " + condition : yes
                }
            default:
                // MemoryFilter's init made sure the operand is a number.
                let symbol = ["$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="][op] ?? "="
                return numberCompare(at: path, symbol, MemoryFilter.number(operand) ?? .nan)
            }
        }

        /// `MetadataFilter.equal(have, wanted)`.
        mutating func equal(at path: [Step], _ wanted: JSONValue) -> String {
            switch wanted {
            case .null:
                return isType(at: path, sqlite: ["null"], postgres: "null", missingMatches: true)
            case .bool(let b):
                return isType(at: path, sqlite: [b ? "true" : "false"], postgres: nil, jsonb: b ? "true" : "false")
            case .int, .double:
                return numberCompare(at: path, "=", wanted.doubleValue!)
            case .string(let s):
                if engine == .sqlite {
                    guard let p = sqlitePath(path) else { return unsure() }
                    // json_extract gives a string's text, an object or array as JSON text (which
                    // starts with '{' or '['), numbers and booleans as numbers (never equal to
                    // text) and null as NULL: for a string that cannot be mistaken for JSON text,
                    // one call (one parse of the row's JSON) decides.
                    if !s.hasPrefix("{"), !s.hasPrefix("[") {
                        arguments += [.text(p), .text(s)]
                        return "COALESCE(json_extract(\(MemoryFilterSQL.document(engine)), ?) = ?, 0)"
                    }
                    arguments += [.text(p), .text(p), .text(s)]
                    return "(CASE WHEN json_type(\(MemoryFilterSQL.document(engine)), ?) = 'text' THEN json_extract(\(MemoryFilterSQL.document(engine)), ?) = ? ELSE 0 END)"
                }
                let node = postgresNode(path)
                arguments.append(.text(s))
                return "COALESCE(\(node) = to_jsonb(?::text), FALSE)"
            case .object, .array:
                return unsure()
            }
        }

        mutating func numberCompare(at path: [Step], _ symbol: String, _ x: Double) -> String {
            if engine == .sqlite {
                guard let p = sqlitePath(path) else { return unsure() }
                arguments += [.text(p), .text(p), .double(x)]
                let d = MemoryFilterSQL.document(engine)
                return "(CASE WHEN json_type(\(d), ?) IN ('integer', 'real') THEN CAST(json_extract(\(d), ?) AS REAL) \(symbol) ? ELSE 0 END)"
            }
            let node = postgresNode(path)
            let again = postgresNode(path)
            arguments.append(.double(x))
            return "(CASE WHEN jsonb_typeof(\(node)) = 'number' THEN (\(again))::float8 \(symbol) ? ELSE FALSE END)"
        }

        /// The node's JSON type is one of `sqlite` (SQLite's names) / `postgres` (PostgreSQL's);
        /// with `jsonb`, PostgreSQL compares the node to that JSON literal instead.
        mutating func isType(at path: [Step], sqlite: [String], postgres: String?, jsonb: String? = nil,
                             missingMatches: Bool = false) -> String {
            if engine == .sqlite {
                guard let p = sqlitePath(path) else { return unsure() }
                arguments.append(.text(p))
                let list = sqlite.map { "'\($0)'" }.joined(separator: ", ")
                let type = missingMatches ? "COALESCE(json_type(\(MemoryFilterSQL.document(engine)), ?), 'null')" : "json_type(\(MemoryFilterSQL.document(engine)), ?)"
                return "COALESCE(\(type) IN (\(list)), 0)"
            }
            let node = postgresNode(path)
            if let jsonb { return "COALESCE(\(node) = '\(jsonb)'::jsonb, FALSE)" }
            let type = missingMatches ? "COALESCE(jsonb_typeof(\(node)), 'null')" : "jsonb_typeof(\(node))"
            return "COALESCE(\(type) = '\(postgres!)', FALSE)"
        }

        mutating func arrayLength(at path: [Step], _ n: Int) -> String {
            if engine == .sqlite {
                guard let p = sqlitePath(path) else { return unsure() }
                arguments += [.text(p), .text(p), .int(Int64(n))]
                let d = MemoryFilterSQL.document(engine)
                return "(CASE WHEN json_type(\(d), ?) = 'array' THEN json_array_length(\(d), ?) = ? ELSE 0 END)"
            }
            let node = postgresNode(path)
            let again = postgresNode(path)
            arguments.append(.int(Int64(n)))
            return "(CASE WHEN jsonb_typeof(\(node)) = 'array' THEN jsonb_array_length(\(again)) = ? ELSE FALSE END)"
        }

        /// A condition this builder cannot say: true for every row, confirmed later.
        mutating func unsure() -> String {
            exact = false
            return yes
        }

        /// SQLite's JSON path (`$."a"."b"[0]`), or nil when a key holds a character its quoted
        /// labels cannot carry.
        func sqlitePath(_ path: [Step]) -> String? {
            var out = "$"
            for step in path {
                switch step {
                case .key(let k):
                    guard !k.isEmpty, !k.contains("\""), !k.contains("\\") else { return nil }
                    out += ".\"\(k)\""
                case .index(let i):
                    out += "[\(i)]"
                }
            }
            return out
        }

        /// PostgreSQL's node at `path`: `doc -> ? -> ?::int …`, keys and indexes bound (any key
        /// is safe), NULL where the path does not exist.
        mutating func postgresNode(_ path: [Step]) -> String {
            var out = "(doc"
            for step in path {
                switch step {
                case .key(let k):
                    out += " -> ?::text"
                    arguments.append(.text(k))
                case .index(let i):
                    out += " -> ?::int"
                    arguments.append(.int(Int64(i)))
                }
            }
            return out + ")"
        }
    }
}
