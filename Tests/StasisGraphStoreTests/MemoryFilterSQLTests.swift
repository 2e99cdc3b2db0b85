import Foundation
import PropertyBased
import StasisCatalog
@testable import StasisGraphStore
import StasisJSON
import Testing

/// Search filters run in SQL (`MemoryFilterSQL`) on this run's catalog engine. Invariant checked:
/// for random documents and random filters (equality on scalars, nested objects and arrays,
/// every operator, operands SQL cannot say), a search returns exactly what the daemon-side
/// `MemoryFilter.matches` selects, in the same order, for every limit and offset — values stored
/// inline, in chunks, and holding a NUL escape included.
@Suite("memory store filters in SQL")
struct MemoryFilterSQLTests {
    typealias F = MemoryStoreTests.Fixture

    /// A small deterministic generator (SplitMix64), so that one seed names one case.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
    }

    static let scalars: [String] = ["null", "true", "false", "0", "1", "1.0", "2.5", "-3", "\"x\"", "\"1\"", "\"{}\"", "\"é\""]
    static let keys = ["a", "b", "c", "o", "we\"ird"]

    static func scalar(_ r: inout Random) -> String { r.pick(scalars) }

    static func value(_ r: inout Random, depth: Int = 0) -> String {
        switch depth < 2 ? r.below(6) : 0 {
        case 4: return "[" + (0..<r.below(3)).map { _ in value(&r, depth: depth + 1) }.joined(separator: ",") + "]"
        case 5: return object(&r, depth: depth + 1)
        default: return scalar(&r)
        }
    }

    static func object(_ r: inout Random, depth: Int) -> String {
        let fields = keys.filter { _ in r.below(2) == 0 }.map { k in "\(encode(k)):\(value(&r, depth: depth))" }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func encode(_ s: String) -> String { s.replacingOccurrences(of: "\"", with: "\\\"").wrappedInQuotes }

    static func wanted(_ r: inout Random) -> String {
        switch r.below(5) {
        case 0:
            let ops = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"].filter { _ in r.below(3) == 0 }
            let parts = (ops.isEmpty ? ["$ne"] : ops).map { op -> String in
                let operand = op == "$eq" || op == "$ne" ? value(&r, depth: 1) : r.pick(["0", "1", "2.5", "-3", "1.0"])
                return "\"\(op)\":\(operand)"
            }
            return "{" + parts.joined(separator: ",") + "}"
        case 1: return object(&r, depth: 1)
        case 2: return "[" + (0..<r.below(3)).map { _ in scalar(&r) }.joined(separator: ",") + "]"
        default: return scalar(&r)
        }
    }

    @Test("SQL filters select exactly what MemoryFilter.matches selects, in order, for every page", .timeLimit(.minutes(3)))
    func sameAsDaemonSide() async throws {
        let f = try F()
        var r = Random(state: 7)
        var documents: [(key: String, json: String)] = []
        for i in 0..<48 {
            var json = Self.object(&r, depth: 0)
            if i % 7 == 3 {  // a chunked value
                json = "{\"pad\":\"" + String(repeating: "z", count: 5000) + "\"," + json.dropFirst()
            }
            if i % 11 == 5 {  // a NUL escape: PostgreSQL's JSONB refuses it
                json = "{\"nul\":\"a\\u0000b\"," + json.dropFirst()
            }
            json = json.replacingOccurrences(of: ",}", with: "}")
            let key = String(format: "k%02d", i)
            try await f.put(["p", i % 3 == 0 ? "q" : "r"], key, json)
            documents.append((key, json))
            f.advance(minutes: i % 5 == 0 ? 0 : 1)  // some items share updated_at: ties order by namespace and key
        }
        let parsed = try documents.map { d in (d.key, try JSONValue.parse(Array(d.json.utf8)).objectValue!) }
        let updated = try await f.search(["p"], limit: 1000)
        let order = updated.map(\.key)  // newest first, as every search orders

        await propertyCheck(count: 150, input: Gen.uint64()) { seed in
            var r = Random(state: seed)
            let conditions = Self.keys.filter { _ in r.below(3) == 0 }.map { k in "\(Self.encode(k)):\(Self.wanted(&r))" }
            let filterText = "{" + conditions.joined(separator: ",") + "}"
            let filterValue = try JSONValue.parse(Array(filterText.utf8)).objectValue!
            guard let filter = try? MemoryFilter(filterValue, field: "filter") else { return }
            let matching = Set(parsed.filter { filter.matches($0.1) }.map(\.0))
            let expected = order.filter(matching.contains)
            let limit = r.pick([1, 3, 10, 100]), offset = r.pick([0, 0, 2, 5])
            let got = try await f.search(["p"], filter: filterText, limit: limit, offset: offset).map(\.key)
            #expect(got == Array(expected.dropFirst(offset).prefix(limit)), "filter \(filterText) limit \(limit) offset \(offset)")
        }
    }

    @Test("a translation is exact unless an operand or key is beyond SQL, and then rows are confirmed")
    func exactness() throws {
        func exact(_ text: String, _ engine: CatalogEngine) throws -> Bool {
            MemoryFilterSQL(try MemoryFilter(JSONValue.parse(Array(text.utf8)).objectValue!, field: "f"), engine: engine).exact
        }
        for engine in [CatalogEngine.sqlite, .postgres] {
            #expect(try exact(#"{"a": 1, "b": {"$gt": 2, "$ne": "x"}, "c": {"d": [1, null]}}"#, engine))
            #expect(try !exact(#"{"a": {"$eq": {"b": 1}}}"#, engine))
            #expect(try !exact(#"{"a": {"$ne": [1]}}"#, engine))
        }
        #expect(try !exact(#"{"we\"ird": 1}"#, .sqlite))
        #expect(try exact(#"{"we\"ird": 1}"#, .postgres))
    }
}

private extension String {
    var wrappedInQuotes: String { "\"" + self + "\"" }
}
