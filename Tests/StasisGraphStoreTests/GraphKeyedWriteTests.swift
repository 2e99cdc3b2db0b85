import StasisGraphStore
import StasisStore
import Testing

/// Puts and writes lock only their thread (on PostgreSQL; SQLite runs one writer at a time), so
/// two daemons on one catalog write different threads at the same moment. Invariants checked,
/// with two graph stores (two daemons, each with its writer lanes and caches) on one catalog:
/// - two writers racing on one thread, each with its own history: for every checkpoint exactly
///   one put lands and the other is refused as a conflict, and what is stored is the winner's
///   whole (its parent and its value, never one writer's checkpoint with the other's value);
/// - meanwhile puts of many threads whose values share most of their chunks all land, and read
///   back bit-exact from a third store with empty caches; `verify` finds nothing wrong.
@Suite("graph store: writers of different threads side by side")
struct GraphKeyedWriteTests {
    typealias T = GraphStoreTests

    static func id(_ step: Int) -> String { String(format: "%04d", step) }

    @Test("two daemons: a raced thread keeps one writer's history whole; other threads all land")
    func twoDaemons() async throws {
        let f = try T.Fixture()
        let other = try GraphStore(store: try ContentStore.open(at: f.root))
        let stores = [f.graph, other]
        let shared = T.bytes(30_000, seed: 5)
        func value(_ thread: Int, step: Int) -> [UInt8] { shared + T.bytes(2000 + step, seed: UInt64(thread * 1000 + step)) }
        func racedValue(writer: Int, step: Int) -> [UInt8] { T.bytes(5000 + step, seed: UInt64(900_000 + writer * 1000 + step)) }
        let steps = 12

        let outcomes = try await withThrowingTaskGroup(of: [Int: Int].self) { group in
            // The raced thread: writer w's checkpoint `step` has parent "w-(step-1)", so the two
            // writers' puts of one id always disagree on the parent.
            for w in 0..<2 {
                group.addTask {
                    var won: [Int: Int] = [:]
                    for step in 1...steps {
                        let put = T.put("raced", Self.id(step), parent: "\(w)-\(step - 1)",
                                        values: ["v": racedValue(writer: w, step: step)], versions: ["v": "\(w)-\(step)"])
                        do {
                            try await stores[w].put(put)
                            won[step] = w
                        } catch GraphError.conflict {}
                    }
                    return won
                }
            }
            // Eight threads, four on each daemon, growing step by step.
            for t in 0..<8 {
                group.addTask {
                    for step in 0..<steps {
                        try await stores[t % 2].put(T.put("t\(t)", Self.id(step), parent: step == 0 ? nil : Self.id(step - 1),
                                                          values: ["v": value(t, step: step)], versions: ["v": "\(step)"]))
                    }
                    return [:]
                }
            }
            return try await group.reduce(into: [Int: [Int]]()) { all, won in
                for (step, w) in won { all[step, default: []].append(w) }
            }
        }
        let fresh = try GraphStore(store: try ContentStore.open(at: f.root))
        for step in 1...steps {
            let winners = outcomes[step] ?? []
            #expect(winners.count == 1, "checkpoint \(step) was stored by \(winners.count) writers")
            guard let w = winners.first else { continue }
            let stored = try #require(try fresh.tuple(GraphKey(thread: "raced", checkpoint: Self.id(step))))
            #expect(stored.parent == "\(w)-\(step - 1)")
            #expect(stored.values.map(\.version) == ["\(w)-\(step)"])
            #expect(stored.values.first?.value?.bytes == racedValue(writer: w, step: step))
        }
        for t in 0..<8 {
            #expect(try fresh.tuple(GraphKey(thread: "t\(t)"))?.values.first?.value?.bytes == value(t, step: steps - 1), "thread t\(t)")
        }
        #expect(try f.count("graph_checkpoints") == steps + 8 * steps)
        #expect(try fresh.verify().problems.map(\.message) == [])
    }
}
