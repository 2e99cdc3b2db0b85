import Foundation
import GRDB
import StasisCatalog
import StasisStore

/// LangGraph's checkpoints in a Stasis store: what `stasis serve` answers the `Checkpointer`
/// service from (Formats/langgraph.md).
///
/// Rows live in the catalog (migration "v3-langgraph-checkpoints"). Values up to
/// `ChunkedValue.inlineLimit` bytes stay in their row; larger ones are cut by FastCDC into
/// content-addressed, LZ4-compressed chunks, so a message list that grows by one message per step
/// costs about one message per step. Every write goes through one group-commit writer and is
/// durable (catalog `synchronous = FULL`) before it returns. One process writes a store's graph
/// tables at a time (`stasis serve` holds the serve lock), which keeps the writer's chunk cache true.
public final class GraphStore: Sendable {
    public let store: ContentStore
    let writer: GroupCommitWriter
    let cache = ValueCache()

    public init(store: ContentStore) throws(GraphError) {
        self.store = store
        // The graph store owns its tables and creates them on first use of a catalog.
        do { try CatalogMigrator.migrate(store.catalog.database, GraphSchema.schema) } catch {
            throw .storage("prepare the graph tables in \(store.catalog.path): \(error)")
        }
        let known: Set<ChunkID>
        do {
            known = try store.catalog.readThrough { db in
                var ids = Set<ChunkID>()
                let rows = try Row.fetchCursor(db, sql: "SELECT id FROM graph_chunks")
                while let row = try rows.next() {
                    let data: Data = row[0]
                    if data.count == 32 { ids.insert(data.withUnsafeBytes { ChunkID(bytes: $0) }) }
                }
                return ids
            }
        } catch {
            throw .storage("read \(store.catalog.path): \(error)")
        }
        writer = GroupCommitWriter(catalog: store.catalog, knownChunks: known)
    }

    /// Counts for health reports.
    public struct Counts: Sendable {
        public var threads: Int
        public var checkpoints: Int
        public var writes: Int
        public var values: Int
        public var chunks: Int
        /// Bytes of rows and chunks as stored (compressed), without SQLite's page overhead.
        public var storedBytes: Int64
    }

    public func counts() throws(GraphError) -> Counts {
        try read { db in
            let threads = try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT thread_id) FROM graph_checkpoints") ?? 0
            let checkpoints = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM graph_checkpoints") ?? 0
            let writes = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM graph_writes") ?? 0
            let values = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM graph_values") ?? 0
            let chunks = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM graph_chunks") ?? 0
            var bytes: Int64 = 0
            for sql in [
                "SELECT SUM(length(checkpoint) + length(metadata) + length(metadata_json) + length(versions) + length(thread_id) + length(checkpoint_ns) + length(checkpoint_id) + 32) FROM graph_checkpoints",
                "SELECT SUM(IFNULL(length(inline_value), 0) + IFNULL(length(value_id), 0) + length(channel) + length(version) + length(thread_id) + 16) FROM graph_channel_values",
                "SELECT SUM(IFNULL(length(inline_value), 0) + IFNULL(length(value_id), 0) + length(channel) + length(task_id) + length(task_path) + length(thread_id) + 16) FROM graph_writes",
                "SELECT SUM(length(chunks) + 40) FROM graph_values",
                "SELECT SUM(length(data) + 44) FROM graph_chunks",
            ] {
                bytes += try Int64.fetchOne(db, sql: sql) ?? 0
            }
            return Counts(threads: threads, checkpoints: checkpoints, writes: writes, values: values, chunks: chunks, storedBytes: bytes)
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(GraphError) -> T {
        do { return try store.catalog.readThrough(body) } catch let error as GraphError { throw error } catch {
            throw .storage("\(error)")
        }
    }

    static func check(_ value: String, _ field: String) throws(GraphError) {
        guard !value.isEmpty else { throw .invalidArgument(field: field, reason: "must not be empty") }
        guard value.utf8.count <= 1024 else { throw .invalidArgument(field: field, reason: "longer than 1024 bytes") }
    }
}
