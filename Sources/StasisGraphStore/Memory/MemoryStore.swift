import Foundation
import StasisCatalog
import Synchronization

/// LangGraph's long-term memory (`BaseStore`) in a Stasis store: what `stasis serve` answers the
/// `MemoryStore` service from (Formats/langgraph.md, "Memory store").
///
/// Items live in the catalog beside the graph store's checkpoints and share its value storage
/// (small values inline, large ones content-defined-chunked and stored once) and its
/// group-commit writer, so memory writes and checkpoint writes share one writer and its fsyncs.
/// A batch is one transaction: all of its puts commit, or none.
public final class MemoryStore: Sendable {
    let graph: GraphStore
    /// Seconds since 1970; a parameter so that tests can move time.
    let now: @Sendable () -> Double
    /// Largest value (its JSON bytes) one put may store.
    public let maxValueBytes: Int
    /// Set when a put or delete may have left a large value that no row uses: the next sweep
    /// then removes such values, not only expired items.
    private let orphans = Mutex(false)

    public init(graph: GraphStore, maxValueBytes: Int = 16 << 20,
                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.graph = graph
        self.maxValueBytes = maxValueBytes
        self.now = now
    }

    /// Answers `ops` in one transaction, one result per op, in order. Reads see the store as it
    /// was before this batch's puts; of several puts to one key the last counts. A bad op fails
    /// the whole batch before anything is written.
    public func batch(_ ops: [MemoryOp]) async throws(GraphError) -> [MemoryResult] {
        let plan = try MemoryBatchPlan(ops, maxValueBytes: maxValueBytes)
        let now = self.now()
        let cache = graph.cache
        if plan.puts.isEmpty {
            let (results, refresh) = try graph.read { db in try Self.answer(plan, now: now, db, cache) }
            if !refresh.isEmpty {
                do { _ = try await graph.writer.perform { db in try Self.refresh(refresh, now: now, db) } } catch { throw .from(error) }
            }
            return results
        }
        if plan.puts.contains(where: { $0.valueJSON == nil || $0.valueJSON!.count > ChunkedValue.inlineLimit }) {
            orphans.withLock { $0 = true }
        }
        do {
            return try await graph.writer.perform { db in
                let (results, refresh) = try Self.answer(plan, now: now, db, cache)
                _ = try Self.refresh(refresh, now: now, db)
                try Self.apply(plan.puts, now: now, db, cache)
                return results
            }
        } catch { throw .from(error) }
    }

    /// Deletes the items whose TTL ran out (reads skip them already) with their embeddings, and
    /// then the large values no row refers to any more. Returns the number of items deleted.
    public func sweepExpired() async throws(GraphError) -> Int {
        let now = self.now()
        let sweepValues = orphans.withLock { dirty in
            defer { dirty = false }
            return dirty
        }
        do {
            return try await graph.writer.perform(deletes: true) { db in
                try db.execute("""
                    DELETE FROM memory_vectors WHERE EXISTS (SELECT 1 FROM memory_items i
                        WHERE i.namespace = memory_vectors.namespace AND i.key = memory_vectors.key AND i.expires_at <= ?)
                    """, now)
                let n = try db.execute("DELETE FROM memory_items WHERE expires_at <= ?", now)
                if n > 0 || sweepValues { try GraphStore.sweepValues(db) }
                return n
            }
        } catch {
            orphans.withLock { $0 = $0 || sweepValues }
            throw .from(error)
        }
    }

    /// Counts for health reports and tests: items (expired ones included until swept), and
    /// embeddings.
    public func counts() throws(GraphError) -> (items: Int, vectors: Int) {
        try graph.read { db in
            (Int(try db.queryOne("SELECT COUNT(*) AS n FROM memory_items", [])?.optionalInt("n") ?? 0),
             Int(try db.queryOne("SELECT COUNT(*) AS n FROM memory_vectors", [])?.optionalInt("n") ?? 0))
        }
    }
}
