import Foundation
import GRDB
import StasisStore

extension GraphStore {
    /// Removes every checkpoint, write and value of the threads. Returns the checkpoints removed.
    public func deleteThreads(_ threads: [String]) async throws(GraphError) -> Int {
        for t in threads { try Self.check(t, "thread_ids") }
        return try await deleting { db, ctx in
            var n = 0
            for t in threads {
                try db.execute(sql: "DELETE FROM graph_checkpoints WHERE thread_id = ?", arguments: [t])
                n += db.changesCount
                try db.execute(sql: "DELETE FROM graph_writes WHERE thread_id = ?", arguments: [t])
                try db.execute(sql: "DELETE FROM graph_channel_values WHERE thread_id = ?", arguments: [t])
            }
            return n
        }
    }

    /// Removes the checkpoints whose metadata names one of the runs, with their writes and the
    /// values no remaining checkpoint uses.
    public func deleteRuns(_ runs: [String]) async throws(GraphError) -> Int {
        for r in runs { try Self.check(r, "run_ids") }
        return try await deleting { db, ctx in
            var n = 0
            var threads = Set<String>()
            for r in runs {
                let keys = try Row.fetchAll(db, sql: "SELECT thread_id, checkpoint_ns, checkpoint_id FROM graph_checkpoints WHERE run_id = ?", arguments: [r])
                for k in keys {
                    try Self.deleteCheckpoint(GraphKey(thread: k[0], namespace: k[1], checkpoint: k[2]), db)
                    threads.insert(k[0])
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
        return try await deleting { db, ctx in
            var n = 0
            for t in threads {
                let namespaces = try String.fetchAll(db, sql: "SELECT DISTINCT checkpoint_ns FROM graph_checkpoints WHERE thread_id = ?", arguments: [t])
                for ns in namespaces {
                    let old = try String.fetchAll(db, sql: """
                        SELECT checkpoint_id FROM graph_checkpoints WHERE thread_id = ? AND checkpoint_ns = ?
                        ORDER BY checkpoint_id DESC LIMIT -1 OFFSET 1
                        """, arguments: [t, ns])
                    for id in old { try Self.deleteCheckpoint(GraphKey(thread: t, namespace: ns, checkpoint: id), db) }
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
            return try await writer.perform { db, ctx in
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM graph_checkpoints WHERE thread_id = ? LIMIT 1", arguments: [target]) == true {
                    throw GraphError.conflict("thread \(target) already has checkpoints; delete it first or copy to a new thread")
                }
                try db.execute(sql: """
                    INSERT INTO graph_checkpoints(thread_id, checkpoint_ns, checkpoint_id, parent_id, run_id, checkpoint_type, checkpoint,
                        metadata_type, metadata, metadata_json, versions, created_at)
                    SELECT ?, checkpoint_ns, checkpoint_id, parent_id, run_id, checkpoint_type, checkpoint, metadata_type, metadata,
                        metadata_json, versions, created_at FROM graph_checkpoints WHERE thread_id = ?
                    """, arguments: [target, source])
                let n = db.changesCount
                try db.execute(sql: """
                    INSERT INTO graph_channel_values(thread_id, checkpoint_ns, channel, version, value_type, inline_value, value_id)
                    SELECT ?, checkpoint_ns, channel, version, value_type, inline_value, value_id FROM graph_channel_values WHERE thread_id = ?
                    """, arguments: [target, source])
                try db.execute(sql: """
                    INSERT INTO graph_writes(thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, task_path, value_type, inline_value, value_id)
                    SELECT ?, checkpoint_ns, checkpoint_id, task_id, idx, channel, task_path, value_type, inline_value, value_id
                    FROM graph_writes WHERE thread_id = ?
                    """, arguments: [target, source])
                return n
            }
        } catch let error as GraphError { throw error } catch { throw .storage("\(error)") }
    }

    /// Runs a delete in a batch of its own, then removes values and chunks nothing refers to.
    func deleting(_ body: @escaping @Sendable (Database, WriterContext) throws -> Int) async throws(GraphError) -> Int {
        do {
            let n = try await writer.perform(deletes: true) { db, ctx in
                let n = try body(db, ctx)
                try Self.sweepValues(db, ctx)
                return n
            }
            cache.removeAll()
            return n
        } catch let error as GraphError { throw error } catch { throw .storage("\(error)") }
    }

    static func deleteCheckpoint(_ k: GraphKey, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM graph_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                       arguments: [k.thread, k.namespace, k.checkpoint])
        try db.execute(sql: "DELETE FROM graph_writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                       arguments: [k.thread, k.namespace, k.checkpoint])
    }

    /// Removes the thread's channel values that none of its remaining checkpoints names.
    static func sweepChannelValues(thread: String, _ db: Database) throws {
        var live = Set<String>()
        let rows = try Row.fetchCursor(db, sql: "SELECT checkpoint_ns, versions FROM graph_checkpoints WHERE thread_id = ?", arguments: [thread])
        while let row = try rows.next() {
            let ns: String = row[0]
            let bytes: Data = row[1]
            for (channel, version) in GraphVersions.decode([UInt8](bytes)) ?? [:] { live.insert(ns + "\u{0}" + channel + "\u{0}" + version) }
        }
        let all = try Row.fetchAll(db, sql: "SELECT checkpoint_ns, channel, version FROM graph_channel_values WHERE thread_id = ?", arguments: [thread])
        for r in all {
            let ns: String = r[0], channel: String = r[1], version: String = r[2]
            if !live.contains(ns + "\u{0}" + channel + "\u{0}" + version) {
                try db.execute(sql: "DELETE FROM graph_channel_values WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?",
                               arguments: [thread, ns, channel, version])
            }
        }
    }

    /// Mark and sweep: values no row refers to, then chunks (data and listing nodes) no value reaches.
    static func sweepValues(_ db: Database, _ ctx: WriterContext) throws {
        try db.execute(sql: """
            DELETE FROM graph_values WHERE
                NOT EXISTS (SELECT 1 FROM graph_channel_values c WHERE c.value_id = graph_values.id) AND
                NOT EXISTS (SELECT 1 FROM graph_writes w WHERE w.value_id = graph_values.id)
            """)
        guard db.changesCount > 0 else { return }
        var live = Set<ChunkID>()
        var nodes = Set<ChunkID>()
        let values = try Row.fetchCursor(db, sql: "SELECT chunks FROM graph_values")
        while let row = try values.next() {
            for node in ChunkedValue.decodeEntries([UInt8](row[0] as Data)) ?? [] { nodes.insert(node.id) }
        }
        for node in nodes {
            live.insert(node)
            // A damaged node hides what it keeps alive: delete no chunk rather than a live one.
            guard let entries = ChunkedValue.decodeEntries(try chunk(node, db) ?? [1]) else { return }
            for e in entries { live.insert(e.id) }
        }
        var dead: [Data] = []
        let chunks = try Row.fetchCursor(db, sql: "SELECT id FROM graph_chunks")
        while let row = try chunks.next() {
            let data: Data = row[0]
            guard data.count == 32 else { continue }
            let id = data.withUnsafeBytes { ChunkID(bytes: $0) }
            if !live.contains(id) { dead.append(data); ctx.removed(id) }
        }
        let delete = try db.cachedStatement(sql: "DELETE FROM graph_chunks WHERE id = ?")
        for id in dead { try delete.execute(arguments: [id]) }
    }
}
