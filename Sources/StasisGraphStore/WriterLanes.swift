import StasisCatalog

/// Group-commit writers side by side, each job on the lane of its LangGraph thread: on
/// PostgreSQL, writes of different threads commit in parallel transactions (each holding only its
/// threads' locks, `CatalogDatabase.write(keys:)`), so a round trip of one does not hold up the
/// others. A thread's jobs stay on one lane, in the order they came. SQLite runs one writer at a
/// time, so it gets one lane.
final class WriterLanes: Sendable {
    /// Lanes on PostgreSQL: enough to overlap the round trips of a few busy threads, and well
    /// within the catalog's connection pool (reads need connections too).
    static let postgresLanes = 4

    private let lanes: [GroupCommitWriter]

    init(database: any CatalogDatabase) {
        let n = database.engine == .postgres ? Self.postgresLanes : 1
        lanes = (0..<n).map { _ in GroupCommitWriter(database: database) }
    }

    /// Runs `body` in a write transaction on the lane of `key` (the first lane without one).
    /// `key` names the one thread whose rows the job writes; without it the job locks the store.
    func perform<T: Sendable>(key: String? = nil, deletes: Bool = false,
                              _ body: @escaping @Sendable (any CatalogConnection) throws -> T) async throws -> T {
        try await lane(key).perform(key: key, deletes: deletes, body)
    }

    /// The blocking form, for callers outside Swift concurrency (the CLI, tests).
    func performSync<T: Sendable>(key: String? = nil, deletes: Bool = false,
                                  _ body: @escaping @Sendable (any CatalogConnection) throws -> T) throws -> T {
        try lane(key).performSync(key: key, deletes: deletes, body)
    }

    private func lane(_ key: String?) -> GroupCommitWriter {
        guard let key, lanes.count > 1 else { return lanes[0] }
        // FNV-1a: any stable spread will do; Swift's Hasher would do too, but is seeded per process.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return lanes[Int(hash % UInt64(lanes.count))]
    }
}
