import Foundation
import StasisCatalog
import StasisStore

/// LangGraph's checkpoints in a Stasis store: what `stasis serve` answers the `Checkpointer`
/// service from (Formats/langgraph.md).
///
/// Rows live in the catalog (migration "v3-langgraph-checkpoints"). Values up to
/// `ChunkedValue.inlineLimit` bytes stay in their row; larger ones are cut by FastCDC into
/// content-addressed, zstd-compressed chunks, so a message list that grows by one message per step
/// costs about one message per step. Every write goes through a group-commit writer (one per
/// thread's lane, `WriterLanes`) and is durable (catalog `synchronous = FULL`) before it returns.
/// Puts and writes lock only their thread (`CatalogDatabase.write(keys:)`); deletes, copies and
/// the memory store lock the whole store. Several processes (daemons on other
/// hosts sharing a PostgreSQL catalog, a prune from the command line) may write the same tables:
/// every decision about what is stored is made in the catalog, inside the write transaction, and
/// every insert is idempotent; in-memory caches hold values by their content-derived ids only.
public final class GraphStore: Sendable {
    public let store: ContentStore
    let writer: WriterLanes
    let cache = ValueCache()

    public init(store: ContentStore) throws(GraphError) {
        self.store = store
        // The graph store owns its tables and creates them on first use of a catalog; the memory
        // store's too, because its items hold graph values that the sweep must keep.
        do {
            try CatalogMigrator.migrate(store.catalog.database, GraphSchema.schema)
            try CatalogMigrator.migrate(store.catalog.database, MemorySchema.schema)
        } catch {
            throw .storage("prepare the graph tables in \(store.catalog.database.location): \(error)", cause: error)
        }
        writer = WriterLanes(database: store.catalog.database)
    }

    /// Counts for health reports.
    public struct Counts: Sendable {
        public var threads: Int
        public var checkpoints: Int
        public var writes: Int
        public var values: Int
        public var chunks: Int
        /// Bytes of rows and chunks as stored (compressed), without the engine's page overhead.
        public var storedBytes: Int64
    }

    public func counts() throws(GraphError) -> Counts {
        try read { db in
            // A count or sum of no rows is 0; PostgreSQL's bigint and numeric come back as integers too.
            func number(_ sql: String) throws -> Int64 { try db.queryOne(sql, [])?.optionalInt("n") ?? 0 }
            let threads = try number("SELECT COUNT(DISTINCT thread_id) AS n FROM graph_checkpoints")
            let checkpoints = try number("SELECT COUNT(*) AS n FROM graph_checkpoints")
            let writes = try number("SELECT COUNT(*) AS n FROM graph_writes")
            let values = try number("SELECT COUNT(*) AS n FROM graph_values")
            let chunks = try number("SELECT COUNT(*) AS n FROM graph_chunks")
            var bytes: Int64 = 0
            for sql in [
                "SELECT SUM(length(checkpoint) + length(metadata) + length(metadata_json) + length(versions) + length(thread_id) + length(checkpoint_ns) + length(checkpoint_id) + 32) AS n FROM graph_checkpoints",
                "SELECT SUM(COALESCE(length(inline_value), 0) + COALESCE(length(value_id), 0) + length(channel) + length(version) + length(thread_id) + 16) AS n FROM graph_channel_values",
                "SELECT SUM(COALESCE(length(inline_value), 0) + COALESCE(length(value_id), 0) + length(channel) + length(task_id) + length(task_path) + length(thread_id) + 16) AS n FROM graph_writes",
                "SELECT SUM(length(chunks) + 40) AS n FROM graph_values",
                "SELECT SUM(length(data) + 44) AS n FROM graph_chunks",
            ] {
                bytes += try number(sql)
            }
            return Counts(threads: Int(threads), checkpoints: Int(checkpoints), writes: Int(writes), values: Int(values), chunks: Int(chunks),
                          storedBytes: bytes)
        }
    }

    /// One read transaction (one snapshot) of the catalog.
    func read<T>(_ body: (any CatalogConnection) throws -> T) throws(GraphError) -> T {
        do { return try store.catalog.database.read(body) } catch { throw .from(error) }
    }

    static func check(_ value: String, _ field: String) throws(GraphError) {
        guard !value.isEmpty else { throw .invalidArgument(field: field, reason: "must not be empty") }
        guard value.utf8.count <= 1024 else { throw .invalidArgument(field: field, reason: "longer than 1024 bytes") }
    }
}
