import Foundation
import StasisCatalog
import StasisGraphStore
import StasisJSON
import StasisStore
import StasisStoreTestSupport
import Synchronization
import Testing

/// LangGraph's memory store under the daemon (`MemoryStore`), on this run's catalog engine
/// (SQLite, or PostgreSQL with STASIS_TEST_CATALOG=postgres). Invariants checked:
/// - values read back byte for byte, small (inline) and large (chunked); a put keeps
///   `created_at` and moves `updated_at`; a put of nil deletes; unknown keys read as nil;
/// - a prefix covers its namespace and those below it, never a sibling that shares its text;
/// - filters (equality, nested, $eq/$ne/$gt/$gte/$lt/$lte) select what LangGraph's
///   InMemoryStore does; malformed ones are refused naming the key;
/// - `list_namespaces` matches prefixes, suffixes and wildcards, cuts to max_depth, pages, and
///   orders as Python orders tuples;
/// - TTLs hide expired items, restart on a write and on a refreshing read (not on another), and
///   the sweep removes expired items and the values only they used; the daemon's sweeper does so
///   by itself, round after round;
/// - a batch is atomic: one bad op fails it whole, changing nothing; reads in a batch see the
///   store before its puts, and the last put to a key counts;
/// - identical large values are stored once;
/// - similarity search ranks as a brute-force cosine ranking does;
/// - items survive reopening the store.
@Suite("memory store")
struct MemoryStoreTests {
    /// The store's time, moved by the tests.
    final class Clock: Sendable {
        let seconds = Mutex(1_000_000.0)
    }

    final class Fixture: Sendable {
        let root: String
        let store: ContentStore
        let graph: GraphStore
        let memory: MemoryStore
        let clock = Clock()

        init() throws {
            root = NSTemporaryDirectory() + "stasis-memory-" + UUID().uuidString
            store = try TestStores.create(at: root)
            graph = try GraphStore(store: store)
            let clock = self.clock
            memory = MemoryStore(graph: graph, maxValueBytes: 1 << 20, now: { clock.seconds.withLock { $0 } })
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func advance(minutes: Double) { clock.seconds.withLock { $0 += minutes * 60 } }

        func count(_ table: String) throws -> Int {
            Int(try store.catalog.database.read { db in try db.queryOne("SELECT COUNT(*) AS n FROM \(table)", [])?.int("n") } ?? 0)
        }

        @discardableResult
        func put(_ ns: [String], _ key: String, _ json: String?, ttl: Double? = nil, vectors: [(path: String, values: [Float])] = []) async throws -> [MemoryResult] {
            try await memory.batch([.put(MemoryPut(namespace: MemoryNamespace(ns), key: key, valueJSON: json.map { Array($0.utf8) },
                                                   ttlMinutes: ttl, vectors: vectors))])
        }

        func get(_ ns: [String], _ key: String, refresh: Bool = true) async throws -> MemoryItem? {
            guard case .item(let item) = try await memory.batch([.get(MemoryGet(namespace: MemoryNamespace(ns), key: key, refreshTTL: refresh))])[0] else {
                Issue.record("a get answered something else")
                return nil
            }
            return item
        }

        func search(_ prefix: [String], filter: String = "{}", limit: Int = 100, offset: Int = 0, query: [Float]? = nil) async throws -> [MemoryItem] {
            let search = MemorySearch(prefix: MemoryNamespace(prefix), filter: try JSONValue.parse(filter).objectValue!,
                                      limit: limit, offset: offset, query: query)
            guard case .items(let items) = try await memory.batch([.search(search)])[0] else {
                Issue.record("a search answered something else")
                return []
            }
            return items
        }

        func namespaces(_ query: MemoryNamespaceQuery) async throws -> [[String]] {
            guard case .namespaces(let list) = try await memory.batch([.listNamespaces(query)])[0] else { return [] }
            return list.map(\.labels)
        }
    }

    static func text(_ item: MemoryItem?) -> String? { item.map { String(decoding: $0.valueJSON, as: UTF8.self) } }

    static func keys(_ items: [MemoryItem]) -> [String] { items.map { $0.namespace.labels.joined(separator: "/") + ":" + $0.key }.sorted() }

    @Test("put, get and delete: byte for byte, small and large; created_at kept, updated_at moved")
    func roundTrip() async throws {
        let f = try Fixture()
        let small = #"{"b": 1.50, "a": "x"}"#
        let large = #"{"text": ""# + String(repeating: "memory ", count: 3000) + #""}"#
        try await f.put(["users", "u1"], "small", small)
        try await f.put(["users", "u1"], "large", large)
        #expect(Self.text(try await f.get(["users", "u1"], "small")) == small)
        #expect(Self.text(try await f.get(["users", "u1"], "large")) == large)
        #expect(try await f.get(["users", "u1"], "nothing") == nil)
        #expect(try await f.get(["nobody"], "small") == nil)

        let first = try #require(try await f.get(["users", "u1"], "small"))
        f.advance(minutes: 1)
        try await f.put(["users", "u1"], "small", #"{"a": "y"}"#)
        let second = try #require(try await f.get(["users", "u1"], "small"))
        #expect(second.createdAt == first.createdAt && second.updatedAt == first.updatedAt + 60)

        try await f.put(["users", "u1"], "small", nil)
        #expect(try await f.get(["users", "u1"], "small") == nil)
        try await f.put(["users", "u1"], "small", nil)   // deleting what is not there is no error
        #expect(Self.keys(try await f.search(["users"])) == ["users/u1:large"])
    }

    @Test("a prefix covers its namespace and those below it, not siblings sharing its text")
    func prefixes() async throws {
        let f = try Fixture()
        for ns in [["a"], ["a", "b"], ["a", "b", "c"], ["ab"], ["a-"], ["a_"], ["b"]] {
            try await f.put(ns, "k", "{}")
        }
        #expect(Self.keys(try await f.search(["a"])) == ["a/b/c:k", "a/b:k", "a:k"])
        #expect(Self.keys(try await f.search(["a", "b"])) == ["a/b/c:k", "a/b:k"])
        #expect(try await f.search([]).count == 7)
        #expect(try await f.search(["c"]).isEmpty)
        #expect(try await f.search([], limit: 3, offset: 5).count == 2)
    }

    @Test("filters select what InMemoryStore selects; malformed ones are refused by key")
    func filters() async throws {
        let f = try Fixture()
        try await f.put(["d"], "1", #"{"n": 1, "s": "x", "o": {"p": 1, "q": [1, 2]}}"#)
        try await f.put(["d"], "2", #"{"n": 2.5, "s": "y", "o": {"p": 2}}"#)
        try await f.put(["d"], "3", #"{"n": "3", "s": null}"#)
        try await f.put(["d"], "4", #"{"m": 4}"#)
        func keys(_ filter: String) async throws -> [String] { try await f.search(["d"], filter: filter).map(\.key).sorted() }
        #expect(try await keys(#"{"n": 1.0}"#) == ["1"])
        #expect(try await keys(#"{"s": null}"#) == ["3", "4"])   // a missing field equals null
        #expect(try await keys(#"{"o": {"p": 1}}"#) == ["1"])
        #expect(try await keys(#"{"o": {"q": [1, 2]}}"#) == ["1"])
        #expect(try await keys(#"{"n": {"$gt": 1}}"#) == ["2"])  // "3" is a string: not a number
        #expect(try await keys(#"{"n": {"$gte": 1, "$lt": 2.5}}"#) == ["1"])
        #expect(try await keys(#"{"n": {"$lte": 2.5}}"#) == ["1", "2"])
        #expect(try await keys(#"{"s": {"$ne": "x"}}"#) == ["2", "3", "4"])
        #expect(try await keys(#"{"s": {"$eq": "y"}, "n": 2.5}"#) == ["2"])
        await #expect(throws: GraphError.invalidArgument(field: "ops[0].search.filter.n",
                                                         reason: "unknown operator \"$in\"; use one of $eq, $ne, $gt, $gte, $lt, $lte (an object mixing operators and fields is not a filter)")) {
            _ = try await f.search(["d"], filter: #"{"n": {"$in": [1]}}"#)
        }
        await #expect(throws: GraphError.invalidArgument(field: "ops[0].search.filter.n.$gt", reason: "needs a number, not a string")) {
            _ = try await f.search(["d"], filter: #"{"n": {"$gt": "1"}}"#)
        }
    }

    @Test("list_namespaces: prefix, suffix, wildcards, max_depth, paging, Python's tuple order")
    func listNamespaces() async throws {
        let f = try Fixture()
        for ns in [["a", "b"], ["a-"], ["a", "c", "d"], ["x", "c", "d"], ["a", "b", "e"]] { try await f.put(ns, "k", "{}") }
        #expect(try await f.namespaces(MemoryNamespaceQuery()) == [["a", "b"], ["a", "b", "e"], ["a", "c", "d"], ["a-"], ["x", "c", "d"]])
        #expect(try await f.namespaces(MemoryNamespaceQuery(match: [MemoryMatch(.prefix, ["a"])])) == [["a", "b"], ["a", "b", "e"], ["a", "c", "d"]])
        #expect(try await f.namespaces(MemoryNamespaceQuery(match: [MemoryMatch(.suffix, ["c", "d"])])) == [["a", "c", "d"], ["x", "c", "d"]])
        #expect(try await f.namespaces(MemoryNamespaceQuery(match: [MemoryMatch(.prefix, ["*", "c"])])) == [["a", "c", "d"], ["x", "c", "d"]])
        #expect(try await f.namespaces(MemoryNamespaceQuery(match: [MemoryMatch(.prefix, ["a"]), MemoryMatch(.suffix, ["e"])])) == [["a", "b", "e"]])
        #expect(try await f.namespaces(MemoryNamespaceQuery(maxDepth: 1)) == [["a"], ["a-"], ["x"]])
        #expect(try await f.namespaces(MemoryNamespaceQuery(maxDepth: 2, limit: 2, offset: 1)) == [["a", "c"], ["a-"]])
    }

    @Test("TTL: expired items are invisible, writes and refreshing reads restart it, the sweep removes them")
    func ttl() async throws {
        let f = try Fixture()
        let large = #"{"text": ""# + String(repeating: "expiring ", count: 1000) + #""}"#
        try await f.put(["t"], "short", large, ttl: 1)
        try await f.put(["t"], "long", "{}", ttl: 10)
        try await f.put(["t"], "forever", "{}")
        f.advance(minutes: 0.75)
        #expect(try await f.get(["t"], "short") != nil)             // refreshes: expires at 1.75
        #expect(try await f.get(["t"], "long", refresh: false) != nil)
        f.advance(minutes: 0.75)                                    // 1.5
        #expect(try await f.get(["t"], "short", refresh: false) != nil)
        f.advance(minutes: 0.5)                                     // 2.0
        #expect(try await f.get(["t"], "short") == nil)
        #expect(Self.keys(try await f.search(["t"])) == ["t:forever", "t:long"])
        #expect(try f.count("graph_values") == 1)
        #expect(try await f.memory.sweepExpired() == 1)
        #expect(try f.count("memory_items") == 2 && f.count("graph_values") == 0 && f.count("graph_chunks") == 0)
        f.advance(minutes: 10)
        #expect(try await f.namespaces(MemoryNamespaceQuery()) == [["t"]])
        try await f.put(["t"], "forever", nil)
        #expect(try await f.namespaces(MemoryNamespaceQuery()) == [])   // only an expired item is left
        #expect(try await f.memory.sweepExpired() == 1)
        for bad in [0.0, -1, .infinity, .nan] {
            await #expect(throws: GraphError.self) { try await f.put(["t"], "k", "{}", ttl: bad) }
        }
        #expect(try f.count("memory_items") == 0)
    }

    // The limit only stops a hang: the test waits for rounds, not for a time, and in the whole
    // suite microVM tests may hold this process's few concurrency threads for minutes.
    @Test("the daemon's sweeper deletes expired items by itself, and keeps sweeping after a round", .timeLimit(.minutes(10)))
    func sweeper() async throws {
        let f = try Fixture()
        try await f.put(["t"], "a", "{}", ttl: 1)
        try await f.put(["t"], "b", "{}")
        f.advance(minutes: 2)
        let sweeper = Task { await MemoryTTLSweeper(memory: f.memory, interval: .milliseconds(5)).run { Issue.record("sweep failed: \($0)") } }
        defer { sweeper.cancel() }
        // Waits for rounds (not for a time): each round either finds the item gone or runs again.
        while try f.count("memory_items") != 1 { try await Task.sleep(for: .milliseconds(5)) }
        try await f.put(["t"], "c", "{}", ttl: 1)
        f.advance(minutes: 2)
        while try f.count("memory_items") != 1 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(try await f.get(["t"], "b") != nil)
    }

    @Test("a batch is atomic: a bad op fails it whole; reads see the store before its puts; the last put to a key counts")
    func batches() async throws {
        let f = try Fixture()
        try await f.put(["b"], "k", #"{"v": 0}"#)
        let ns = MemoryNamespace(["b"])
        let results = try await f.memory.batch([
            .put(MemoryPut(namespace: ns, key: "k", valueJSON: Array(#"{"v": 1}"#.utf8))),
            .get(MemoryGet(namespace: ns, key: "k")),
            .put(MemoryPut(namespace: ns, key: "k", valueJSON: Array(#"{"v": 2}"#.utf8))),
            .put(MemoryPut(namespace: ns, key: "new", valueJSON: Array("{}".utf8))),
            .search(MemorySearch(prefix: ns)),
        ])
        #expect(results.count == 5 && results[0] == .none)
        guard case .item(let before?) = results[1], case .items(let listed) = results[4] else {
            Issue.record("unexpected answers \(results)")
            return
        }
        #expect(Self.text(before) == #"{"v": 0}"# && listed.map(\.key) == ["k"])
        #expect(Self.text(try await f.get(["b"], "k")) == #"{"v": 2}"#)

        let bad: [(MemoryPut, String)] = [
            (MemoryPut(namespace: MemoryNamespace(["b", "x.y"]), key: "k", valueJSON: Array("{}".utf8)), "ops[1].put.namespace[1]"),
            (MemoryPut(namespace: MemoryNamespace(["b", ""]), key: "k", valueJSON: Array("{}".utf8)), "ops[1].put.namespace[1]"),
            (MemoryPut(namespace: MemoryNamespace([]), key: "k", valueJSON: Array("{}".utf8)), "ops[1].put.namespace"),
            (MemoryPut(namespace: ns, key: "k", valueJSON: Array("[1]".utf8)), "ops[1].put.value_json"),
            (MemoryPut(namespace: ns, key: "k", valueJSON: Array("{".utf8)), "ops[1].put.value_json"),
            (MemoryPut(namespace: ns, key: "k", valueJSON: Array(("{\"a\": \"" + String(repeating: "x", count: 1 << 20) + "\"}").utf8)), "ops[1].put.value_json"),
            (MemoryPut(namespace: ns, key: "k", valueJSON: Array("{}".utf8), vectors: [(path: "a", values: [1, .nan])]), "ops[1].put.vectors[0].values"),
        ]
        for (put, field) in bad {
            do {
                _ = try await f.memory.batch([.put(MemoryPut(namespace: ns, key: "k", valueJSON: Array(#"{"v": 3}"#.utf8))), .put(put)])
                Issue.record("\(field) was accepted")
            } catch let GraphError.invalidArgument(got, _) {
                #expect(got == field)
            }
        }
        #expect(Self.text(try await f.get(["b"], "k")) == #"{"v": 2}"#)
        #expect(try f.count("memory_items") == 2)
    }

    @Test("identical large values are stored once, and swept with their last item")
    func dedupe() async throws {
        let f = try Fixture()
        let large = #"{"text": ""# + String(repeating: "shared memory ", count: 2000) + #""}"#
        for i in 0..<20 { try await f.put(["d", "\(i % 3)"], "k\(i)", large) }
        #expect(try f.count("graph_values") == 1)
        let chunks = try f.count("graph_chunks")
        try await f.put(["d", "0"], "other", large.replacingOccurrences(of: "\"}", with: " and one more\"}"))
        #expect(try f.count("graph_values") == 2 && f.count("graph_chunks") <= chunks + 3)
        for i in 0..<20 { try await f.put(["d", "\(i % 3)"], "k\(i)", nil) }
        #expect(try await f.memory.sweepExpired() == 0)
        #expect(try f.count("graph_values") == 1)
        #expect(try f.graph.verify().problems.isEmpty)
        #expect(Self.text(try await f.get(["d", "0"], "other"))?.hasSuffix(" and one more\"}") == true)
    }

    @Test("similarity search ranks as brute-force cosine does, with max over an item's embeddings")
    func vectors() async throws {
        let f = try Fixture()
        var rng = SystemRandomNumberGenerator()
        var stored: [String: [[Float]]] = [:]
        for i in 0..<40 {
            let count = i % 3 + 1
            let vectors = (0..<count).map { _ in (0..<8).map { _ in Float.random(in: -1...1, using: &rng) } }
            stored["k\(i)"] = vectors
            try await f.put(["v", i % 2 == 0 ? "even" : "odd"], "k\(i)", #"{"i": \#(i)}"#,
                            vectors: vectors.enumerated().map { (path: "text.\($0.offset)", values: $0.element) })
        }
        try await f.put(["v", "even"], "plain", "{}")   // no embeddings: after the ranked ones
        let query = (0..<8).map { _ in Float.random(in: -1...1, using: &rng) }
        func cosine(_ a: [Float], _ b: [Float]) -> Double {
            let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let na = a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot(), nb = b.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            return dot / (na * nb)
        }
        let brute = stored.map { (key: $0.key, score: $0.value.map { cosine(query, $0) }.max()!) }.sorted { $0.score > $1.score }
        let all = try await f.search(["v"], limit: 100, query: query)
        #expect(all.map(\.key) == brute.map(\.key) + ["plain"])
        for (item, expected) in zip(all, brute) { #expect(abs(item.score! - expected.score) < 1e-9) }
        #expect(all.last?.score == nil)
        let page = try await f.search(["v"], limit: 5, offset: 10, query: query)
        #expect(page.map(\.key) == Array(brute[10..<15].map(\.key)))
        let even = try await f.search(["v", "even"], filter: #"{"i": {"$lt": 20}}"#, limit: 3, query: query)
        #expect(even.map(\.key) == Array(brute.filter { Int($0.key.dropFirst())! % 2 == 0 && Int($0.key.dropFirst())! < 20 }.prefix(3).map(\.key)))
        await #expect(throws: GraphError.self) { _ = try await f.search(["v"], query: [1, 2, 3]) }
    }

    @Test("items survive reopening the store")
    func reopen() async throws {
        let f = try Fixture()
        try await f.put(["r"], "k", #"{"kept": true}"#, vectors: [(path: "t", values: [1, 0])])
        let again = MemoryStore(graph: try GraphStore(store: try ContentStore.open(at: f.root)))
        let results = try await again.batch([.get(MemoryGet(namespace: MemoryNamespace(["r"]), key: "k"))])
        guard case .item(let item?) = results[0] else {
            Issue.record("the item is gone after reopening")
            return
        }
        #expect(Self.text(item) == #"{"kept": true}"#)
    }
}
