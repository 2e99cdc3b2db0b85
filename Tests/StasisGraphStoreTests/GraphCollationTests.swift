import Foundation
import StasisCatalog
import StasisGraphStore
import StasisStore
import StasisStoreTestSupport
import Testing

/// Checkpoint ids, `before` and task order compare bytes on PostgreSQL whatever the database's
/// collation, as on SQLite: on a new fleet store, and on one made by a Stasis before
/// `graph:v4-text-collate-c` on a database whose collation is en-US (simulated: its graph tables'
/// text columns in ICU en-US, the migration not recorded), which first shows the en-US order —
/// so the check can fail — and after being opened again, byte order.
@Suite("graph store: ids in byte order on PostgreSQL", .enabled(if: !TestStores.servicesSkipped, "STASIS_TEST_NO_SERVICES=1"))
struct GraphCollationTests {
    /// Ids that en-US orders otherwise than bytes: upper case before lower, '-' before '_'.
    static let ids = ["a_1", "B", "a", "b", "A", "a-1"]
    static let byteOrder = ["A", "B", "a", "a-1", "a_1", "b"]
    static let tasks = ["t_x", "T-x", "t-x", "T_x"]

    static func put(_ id: String) -> CheckpointPut {
        CheckpointPut(key: GraphKey(thread: "t", checkpoint: id), parent: nil,
                      checkpoint: GraphValue(type: "bytes", bytes: Array(id.utf8)), metadata: GraphValue(type: "bytes", bytes: []),
                      metadataJSON: "{}", versions: [:], newValues: [])
    }

    /// What the graph store answers: newest first, before "a", the latest, and one checkpoint's writes.
    static func orders(_ graph: GraphStore) throws -> (list: [String], before: [String], latest: String?, tasks: [String]) {
        (try graph.list(CheckpointQuery(thread: "t")).map(\.checkpoint),
         try graph.list(CheckpointQuery(thread: "t", before: "a")).map(\.checkpoint),
         try graph.tuple(GraphKey(thread: "t"))?.key.checkpoint,
         try graph.tuple(GraphKey(thread: "t", checkpoint: "a"))?.pendingWrites.map(\.taskID) ?? [])
    }

    @Test("a new store and one migrated from an en-US database answer in byte order")
    func byteOrder() async throws {
        let root = NSTemporaryDirectory() + "stasis-graph-collate-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ContentStore.create(at: root, backends: try TestStores.fleetBackends())
        let database = store.catalog.database
        let graph = try GraphStore(store: store)
        for id in Self.ids { try await graph.put(Self.put(id)) }
        for task in Self.tasks {
            try await graph.putWrites(GraphKey(thread: "t", checkpoint: "a"), taskID: task, taskPath: "",
                                      writes: [PendingWrite(taskID: task, index: 0, channel: "c", value: GraphValue(type: "bytes", bytes: []), taskPath: "")],
                                      replace: false)
        }
        let expected = (list: Array(Self.byteOrder.reversed()), before: ["B", "A"], latest: "b", tasks: Self.tasks.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }))
        var got = try Self.orders(graph)
        #expect(got.list == expected.list && got.before == expected.before && got.latest == expected.latest && got.tasks == expected.tasks)
        #expect(try CatalogCollation.textColumnsNotC(database) == [])

        // The same rows as an older Stasis left them on an en-US database.
        try CatalogCollation.makeOlder(database, tables: ["graph_checkpoints", "graph_channel_values", "graph_writes"],
                                       forgetting: ["graph:v4-text-collate-c"])
        got = try Self.orders(graph)
        #expect(got.list == ["B", "b", "a-1", "a_1", "A", "a"] && got.before == [] && got.latest == "B" && got.tasks == ["t_x", "T_x", "t-x", "T-x"])
        #expect(try CatalogCollation.textColumnsNotC(database).count == 20)

        // Opened again (a newer Stasis): migrated, byte order.
        let migrated = try GraphStore(store: store)
        got = try Self.orders(migrated)
        #expect(got.list == expected.list && got.before == expected.before && got.latest == expected.latest && got.tasks == expected.tasks)
        #expect(try CatalogCollation.textColumnsNotC(database) == [])
        #expect(try migrated.verify().problems.isEmpty)
    }
}
