import Foundation
import StasisCatalog
import StasisStore

extension GraphStore {
    /// Removes every checkpoint, write and value of the threads. Returns the checkpoints removed.
    public func deleteThreads(_ threads: [String]) async throws(GraphError) -> Int {
        for t in threads { try Self.check(t, "thread_ids") }
        return try await deleting { db in
            var n = 0
            for t in threads {
                n += try db.execute("DELETE FROM graph_checkpoints WHERE thread_id = ?", t)
                try db.execute("DELETE FROM graph_writes WHERE thread_id = ?", t)
                try db.execute("DELETE FROM graph_channel_values WHERE thread_id = ?", t)
            }
            return n
        }
    }

    /// Removes the checkpoints whose metadata names one of the runs, with their writes and the
    /// values no remaining checkpoint uses.
    public func deleteRuns(_ runs: [String]) async throws(GraphError) -> Int {
        for r in runs { try Self.check(r, "run_ids") }
        return try await deleting { db in
            var n = 0
            var threads = Set<String>()
            for r in runs {
                let keys = try db.query("SELECT thread_id, checkpoint_ns, checkpoint_id FROM graph_checkpoints WHERE run_id = ?", r)
                for k in keys {
                    let key = GraphKey(thread: try k.text("thread_id"), namespace: try k.text("checkpoint_ns"), checkpoint: try k.text("checkpoint_id"))
                    try Self.deleteCheckpoint(key, db)
                    threads.insert(key.thread)
                    n += 1
                }
            }
            for t in threads { try Self.sweepChannelValues(thread: t, db) }
            return n
        }
    }

    /// Keeps the newest checkpoint of each namespace of each thread (`.keepLatest`), or removes the
    /// threads entirely (`.delete`).
    public func prune(_ threads: [String], strategy: PruneStrategy) async throws(GraphError) -> Int {
        if strategy == .delete { return try await deleteThreads(threads) }
        for t in threads { try Self.check(t, "thread_ids") }
        return try await deleting { db in
            var n = 0
            for t in threads {
                let namespaces = try db.query("SELECT DISTINCT checkpoint_ns FROM graph_checkpoints WHERE thread_id = ?", t)
                for ns in try namespaces.map({ try $0.text("checkpoint_ns") }) {
                    // All but the newest (the engines disagree on "no limit": the first row is dropped here).
                    let old = try db.query("""
                        SELECT checkpoint_id FROM graph_checkpoints WHERE thread_id = ? AND checkpoint_ns = ?
                        ORDER BY checkpoint_id DESC
                        """, t, ns).dropFirst()
                    for row in old { try Self.deleteCheckpoint(GraphKey(thread: t, namespace: ns, checkpoint: try row.text("checkpoint_id")), db) }
                    n += old.count
                }
                try Self.sweepChannelValues(thread: t, db)
            }
            return n
        }
    }

    /// Copies every checkpoint, write and channel value of `source` to `target` (values are shared,
    /// not duplicated). Refused when `target` already has checkpoints.
    public func copyThread(from source: String, to target: String) async throws(GraphError) -> Int {
        try Self.check(source, "source_thread_id")
        try Self.check(target, "target_thread_id")
        guard source != target else { throw .invalidArgument(field: "target_thread_id", reason: "is the source thread") }
        do {
            return try await writer.perform { db in
                if try db.queryOne("SELECT 1 AS present FROM graph_checkpoints WHERE thread_id = ? LIMIT 1", target) != nil {
                    throw GraphError.conflict("thread \(target) already has checkpoints; delete it first or copy to a new thread")
                }
                let n = try db.execute("""
                    INSERT INTO graph_checkpoints(thread_id, checkpoint_ns, checkpoint_id, parent_id, run_id, checkpoint_type, checkpoint,
                        checkpoint_encoding, metadata_type, metadata, metadata_json, versions, versions_encoding, created_at)
                    SELECT ?, checkpoint_ns, checkpoint_id, parent_id, run_id, checkpoint_type, checkpoint, checkpoint_encoding, metadata_type,
                        metadata, metadata_json, versions, versions_encoding, created_at FROM graph_checkpoints WHERE thread_id = ?
                    """, target, source)
                try db.execute("""
                    INSERT INTO graph_channel_values(thread_id, checkpoint_ns, channel, version, value_type, inline_value, inline_encoding, value_id)
                    SELECT ?, checkpoint_ns, channel, version, value_type, inline_value, inline_encoding, value_id
                    FROM graph_channel_values WHERE thread_id = ?
                    """, target, source)
                try db.execute("""
                    INSERT INTO graph_writes(thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, task_path, value_type,
                        inline_value, inline_encoding, value_id)
                    SELECT ?, checkpoint_ns, checkpoint_id, task_id, idx, channel, task_path, value_type, inline_value, inline_encoding, value_id
                    FROM graph_writes WHERE thread_id = ?
                    """, target, source)
                return n
            }
        } catch { throw .from(error) }
    }

    /// Runs a delete in a batch of its own, then removes values and chunks nothing refers to.
    func deleting(_ body: @escaping @Sendable (any CatalogConnection) throws -> Int) async throws(GraphError) -> Int {
        do {
            let n = try await writer.perform(deletes: true) { db in
                let n = try body(db)
                try Self.sweepValues(db)
                return n
            }
            cache.removeAll()
            return n
        } catch { throw .from(error) }
    }

    static func deleteCheckpoint(_ k: GraphKey, _ db: any CatalogConnection) throws {
        try db.execute("DELETE FROM graph_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                       k.thread, k.namespace, k.checkpoint)
        try db.execute("DELETE FROM graph_writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                       k.thread, k.namespace, k.checkpoint)
    }

    /// Removes the thread's channel values that none of its remaining checkpoints names.
    static func sweepChannelValues(thread: String, _ db: any CatalogConnection) throws {
        var live = Set<String>()
        try db.forEachRow("SELECT checkpoint_ns, checkpoint_id, versions, versions_encoding FROM graph_checkpoints WHERE thread_id = ?",
                          [.text(thread)]) { row in
            let ns = try row.text("checkpoint_ns")
            let what = "checkpoint \(try row.text("checkpoint_id")) of thread \(thread): its channel versions"
            // Versions that do not decode hide which values are live: nothing is removed.
            guard let versions = GraphVersions.decode(try RowCompression.blob(row, "versions", encoding: "versions_encoding", what: what)) else {
                throw GraphError.corrupt("\(what) do not decode; nothing was removed")
            }
            for (channel, version) in versions { live.insert(ns + "\u{0}" + channel + "\u{0}" + version) }
        }
        let all = try db.query("SELECT checkpoint_ns, channel, version FROM graph_channel_values WHERE thread_id = ?", thread)
        for r in all {
            let ns = try r.text("checkpoint_ns"), channel = try r.text("channel"), version = try r.text("version")
            if !live.contains(ns + "\u{0}" + channel + "\u{0}" + version) {
                try db.execute("DELETE FROM graph_channel_values WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?",
                               thread, ns, channel, version)
            }
        }
    }

    /// Mark and sweep: values no row refers to, then chunks (data and listing nodes) no value reaches.
    static func sweepValues(_ db: any CatalogConnection) throws {
        let removed = try db.execute("""
            DELETE FROM graph_values WHERE
                NOT EXISTS (SELECT 1 FROM graph_channel_values c WHERE c.value_id = graph_values.id) AND
                NOT EXISTS (SELECT 1 FROM graph_writes w WHERE w.value_id = graph_values.id) AND
                NOT EXISTS (SELECT 1 FROM memory_items m WHERE m.value_id = graph_values.id)
            """)
        guard removed > 0 else { return }
        var nodes = Set<ChunkID>()
        try db.forEachRow("SELECT chunks FROM graph_values", []) { row in
            for node in ChunkedValue.decodeEntries(try row.blob("chunks")) ?? [] { nodes.insert(node.id) }
        }
        var live = nodes
        for batch in Array(nodes).batches(of: GraphChunks.idsPerStatement) {
            let stored = try GraphChunks.load(batch, db)
            for node in batch {
                // A damaged node hides what it keeps alive: delete no chunk rather than a live one.
                guard let entries = ChunkedValue.decodeEntries(stored[node] ?? [1]) else { return }
                for e in entries { live.insert(e.id) }
            }
        }
        var dead: [ChunkID] = []
        try db.forEachRow("SELECT id FROM graph_chunks", []) { row in
            guard let id = GraphChunks.chunkID(try row.blob("id")), !live.contains(id) else { return }
            dead.append(id)
        }
        try GraphChunks.delete(dead, db)
    }
}
