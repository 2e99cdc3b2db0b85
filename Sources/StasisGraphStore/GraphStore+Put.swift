import Foundation
import StasisCatalog
import StasisJSON
import StasisStore

extension GraphStore {
    /// Stores a checkpoint and the values of the channels that changed, in one transaction.
    ///
    /// Putting the same checkpoint again (a retry after a lost reply) replaces it. Putting a
    /// checkpoint id that exists with a different parent is a conflict: two writers raced on the
    /// thread, and the second is refused rather than silently rewriting history.
    /// Returns the number of new chunk bytes stored (before compression).
    @discardableResult
    public func put(_ put: CheckpointPut) async throws(GraphError) -> Int64 {
        let metadata = try Self.validate(put)
        let cache = self.cache
        do {
            return try await writer.perform { db in try Self.insert(put, runID: metadata["run_id"]?.stringValue, db, cache) }
        } catch { throw .from(error) }
    }

    public func putSync(_ put: CheckpointPut) throws(GraphError) -> Int64 {
        let metadata = try Self.validate(put)
        let cache = self.cache
        do {
            return try writer.performSync { db in try Self.insert(put, runID: metadata["run_id"]?.stringValue, db, cache) }
        } catch { throw .from(error) }
    }

    /// Stores a task's writes against a checkpoint. Normal writes are kept as first written (a
    /// retried task does not duplicate them); with `replace` (LangGraph's special ERROR,
    /// INTERRUPT, SCHEDULED and RESUME writes) the new value replaces the stored one.
    public func putWrites(_ key: GraphKey, taskID: String, taskPath: String, writes: [PendingWrite], replace: Bool) async throws(GraphError) {
        try Self.check(key.thread, "thread_id")
        try Self.check(key.checkpoint, "checkpoint_id")
        try Self.check(taskID, "task_id")
        for (i, w) in writes.enumerated() {
            guard !w.channel.isEmpty else { throw .invalidArgument(field: "writes[\(i)].channel", reason: "must not be empty") }
        }
        let cache = self.cache
        do {
            _ = try await writer.perform { db in
                try Self.insertWrites(key, taskID: taskID, taskPath: taskPath, writes: writes, replace: replace, db, cache)
                return true
            }
        } catch { throw .from(error) }
    }

    static func validate(_ put: CheckpointPut) throws(GraphError) -> [String: JSONValue] {
        try check(put.key.thread, "thread_id")
        try check(put.key.checkpoint, "checkpoint_id")
        guard put.key.namespace.utf8.count <= 1024 else { throw .invalidArgument(field: "checkpoint_ns", reason: "longer than 1024 bytes") }
        guard !put.checkpoint.type.isEmpty else { throw .invalidArgument(field: "checkpoint.type", reason: "must name the serde type") }
        guard !put.metadata.type.isEmpty else { throw .invalidArgument(field: "metadata.type", reason: "must name the serde type") }
        let metadata: [String: JSONValue]
        do {
            guard let object = try JSONValue.parse(put.metadataJSON.isEmpty ? "{}" : put.metadataJSON).objectValue else {
                throw GraphError.invalidArgument(field: "metadata_json", reason: "must be a JSON object")
            }
            metadata = object
        } catch let error as GraphError { throw error } catch {
            throw .invalidArgument(field: "metadata_json", reason: "\(error)")
        }
        for (i, v) in put.newValues.enumerated() {
            guard !v.channel.isEmpty else { throw .invalidArgument(field: "new_values[\(i)].channel", reason: "must not be empty") }
            guard !v.version.isEmpty else { throw .invalidArgument(field: "new_values[\(i)].version", reason: "must not be empty") }
            if let d = v.delta {
                guard v.value != nil else { throw .invalidArgument(field: "new_values[\(i)].value", reason: "a delta needs value.type") }
                guard !d.baseVersion.isEmpty else { throw .invalidArgument(field: "new_values[\(i)].delta.base_version", reason: "must not be empty") }
            }
        }
        for (channel, version) in put.versions where channel.isEmpty || version.isEmpty {
            throw .invalidArgument(field: "versions", reason: "channel \"\(channel)\" has an empty name or version")
        }
        return metadata
    }

    static func insert(_ put: CheckpointPut, runID: String?, _ db: any CatalogConnection, _ cache: ValueCache) throws -> Int64 {
        let k = put.key
        if let existing = try db.queryOne("""
            SELECT parent_id FROM graph_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?
            """, k.thread, k.namespace, k.checkpoint) {
            let parent = existing.optionalText("parent_id")
            if parent != put.parent {
                throw GraphError.conflict("\(k) already exists with parent \(parent ?? "(none)"), not \(put.parent ?? "(none)"): another writer stored it first; reload the thread and retry")
            }
        }
        var newBytes: Int64 = 0
        for (i, update) in put.newValues.enumerated() {
            var stored = StoredValue(inline: nil, valueID: nil, newBytes: 0)
            if let value = update.value {
                if let delta = update.delta {
                    let (bytes, chunked, base) = try resolve(delta, key: k, channel: update.channel, field: "new_values[\(i)].delta", db, cache)
                    stored = try storeValue(bytes, chunked: chunked, base: base, db, cache)
                } else {
                    stored = try storeValue(value.bytes, chunked: nil, db, cache)
                }
                newBytes += stored.newBytes
            }
            try db.execute("""
                INSERT INTO graph_channel_values(thread_id, checkpoint_ns, channel, version, value_type, inline_value, value_id)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO UPDATE SET
                    value_type = excluded.value_type, inline_value = excluded.inline_value, value_id = excluded.value_id
                """, k.thread, k.namespace, update.channel, update.version, update.value?.type, stored.inline, stored.valueID)
        }
        try db.execute("""
            INSERT INTO graph_checkpoints(thread_id, checkpoint_ns, checkpoint_id, parent_id, run_id, checkpoint_type,
                checkpoint, metadata_type, metadata, metadata_json, versions, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET
                parent_id = excluded.parent_id, run_id = excluded.run_id, checkpoint_type = excluded.checkpoint_type,
                checkpoint = excluded.checkpoint, metadata_type = excluded.metadata_type, metadata = excluded.metadata,
                metadata_json = excluded.metadata_json, versions = excluded.versions, created_at = excluded.created_at
            """, k.thread, k.namespace, k.checkpoint, put.parent, runID, put.checkpoint.type, put.checkpoint.bytes,
            put.metadata.type, put.metadata.bytes, put.metadataJSON.isEmpty ? "{}" : put.metadataJSON,
            GraphVersions.encode(put.versions), Date().timeIntervalSince1970)
        return newBytes
    }

    /// A delta's base value as stored: its id and its data chunks.
    struct DeltaBase {
        var id: [UInt8]
        var chunks: Set<ChunkID>
    }

    /// The bytes a delta stands for, and their chunking (reusing the base's chunks) and the base
    /// when the base is chunked.
    static func resolve(_ d: ValueDelta, key k: GraphKey, channel: String, field: String, _ db: any CatalogConnection, _ cache: ValueCache)
        throws -> ([UInt8], ChunkedValue?, DeltaBase?) {
        guard let row = try db.queryOne("""
            SELECT value_type, inline_value, value_id FROM graph_channel_values
            WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?
            """, k.thread, k.namespace, channel, d.baseVersion), !row.isNull("value_type") else {
            throw GraphError.missingBase("channel \(channel) at version \(d.baseVersion) of thread \(k.thread)")
        }
        let baseID = row.optionalBlob("value_id")
        let base = try loadCached(inline: row.optionalBlob("inline_value"), id: baseID, db, cache, what: "channel \(channel) of thread \(k.thread)")
        guard d.copy.lowerBound >= 0, d.copy.upperBound <= base.bytes.count else {
            throw GraphError.invalidArgument(field: field, reason: "copies \(d.copy) of a \(base.bytes.count)-byte base")
        }
        var bytes = d.head
        bytes.reserveCapacity(d.head.count + d.copy.count + d.tail.count)
        bytes.append(contentsOf: base.bytes[d.copy])
        bytes.append(contentsOf: d.tail)
        guard bytes.count > ChunkedValue.inlineLimit, !base.pieces.isEmpty, let baseID else { return (bytes, nil, nil) }
        return (bytes, ChunkedValue(bytes, headLength: d.head.count, base: base.pieces, baseCount: base.bytes.count, copy: d.copy),
                DeltaBase(id: baseID, chunks: Set(base.pieces.map(\.id))))
    }

    static func insertWrites(_ k: GraphKey, taskID: String, taskPath: String, writes: [PendingWrite], replace: Bool,
                             _ db: any CatalogConnection, _ cache: ValueCache) throws {
        // A normal write is kept as first written; a special one replaces what is stored.
        let onConflict = replace
            ? "DO UPDATE SET channel = excluded.channel, task_path = excluded.task_path, value_type = excluded.value_type, inline_value = excluded.inline_value, value_id = excluded.value_id"
            : "DO NOTHING"
        for w in writes {
            if !replace, try db.queryOne("""
                SELECT 1 AS present FROM graph_writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? AND task_id = ? AND idx = ?
                """, k.thread, k.namespace, k.checkpoint, taskID, w.index) != nil {
                continue
            }
            let stored = try storeValue(w.value.bytes, chunked: nil, db, cache)
            try db.execute("""
                INSERT INTO graph_writes(thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, task_path, value_type, inline_value, value_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) \(onConflict)
                """, k.thread, k.namespace, k.checkpoint, taskID, w.index, w.channel, taskPath, w.value.type, stored.inline, stored.valueID)
        }
    }

    struct StoredValue {
        var inline: [UInt8]?
        var valueID: [UInt8]?
        var newBytes: Int64
    }

    /// The data chunks and nodes of `value` that the catalog lacks. A delta's base vouches for its
    /// own data chunks while its value row is stored: a value is stored in the transaction that
    /// stores every chunk it lists, and a sweep removes chunks only with the values that list
    /// them. So a grown value looks up its new chunks and its nodes, not the hundreds of chunks it
    /// shares with its base.
    static func missingChunks(of value: ChunkedValue, base: DeltaBase?, _ db: any CatalogConnection) throws -> Set<ChunkID> {
        var vouched = Set<ChunkID>()
        if let base, try db.queryOne("SELECT 1 AS present FROM graph_values WHERE id = ?", base.id) != nil { vouched = base.chunks }
        return try GraphChunks.missing(value.pieces.lazy.map(\.id).filter { !vouched.contains($0) } + value.nodes.map(\.id), db)
    }

    /// Keeps a small value inline; stores a large one as chunks and nodes: those the catalog lacks,
    /// as it says in this transaction (a chunk this process stored may have been removed since by
    /// another). Returns the raw bytes of the data chunks it stored.
    static func storeValue(_ bytes: [UInt8], chunked: ChunkedValue?, base: DeltaBase? = nil, _ db: any CatalogConnection,
                           _ cache: ValueCache) throws -> StoredValue {
        guard bytes.count > ChunkedValue.inlineLimit else { return StoredValue(inline: bytes, valueID: nil, newBytes: 0) }
        let value = chunked ?? ChunkedValue(bytes)
        cache.put(value.id, CachedValue(bytes: bytes, pieces: value.pieces))
        // A stored value has every chunk it lists: a sweep removes a value before its chunks.
        if try db.queryOne("SELECT 1 AS present FROM graph_values WHERE id = ?", value.id) != nil {
            return StoredValue(inline: nil, valueID: value.id, newBytes: 0)
        }
        var missing = try missingChunks(of: value, base: base, db)
        // Each missing chunk once (a value may repeat one), encoded and inserted a batch at a time.
        let pieces = value.pieces.filter { missing.remove($0.id) != nil }
        let nodes = value.nodes.filter { missing.remove($0.id) != nil }
        var added: Int64 = 0
        let scratch = UnsafeMutableRawBufferPointer.allocate(
            byteCount: LZ4Block.scratchCapacity(forRawLength: ChunkedValue.chunker.maxSize), alignment: 16)
        defer { scratch.deallocate() }
        try bytes.withUnsafeBytes { raw in
            for batch in pieces.batches(of: GraphChunks.insertShapes[0]) {
                let chunks = batch.map { GraphChunks.encode(UnsafeRawBufferPointer(rebasing: raw[$0.range]), id: $0.id, scratch: scratch) }
                let inserted = try GraphChunks.insert(chunks, db)
                added += batch.reduce(0) { $0 + (inserted.contains($1.id) ? Int64($1.range.count) : 0) }
            }
        }
        // Nodes are listings of chunk ids: random bytes, stored raw.
        for batch in nodes.batches(of: GraphChunks.insertShapes[0]) {
            try GraphChunks.insert(batch.map { GraphChunks.Stored(id: $0.id, encoding: .raw, rawLength: $0.bytes.count, data: $0.bytes) }, db)
        }
        try db.execute("INSERT INTO graph_values(id, size, chunks) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                       value.id, bytes.count, value.listing)
        return StoredValue(inline: nil, valueID: value.id, newBytes: added)
    }
}
