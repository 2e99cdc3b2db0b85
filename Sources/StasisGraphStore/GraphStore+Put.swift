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
            return try await writer.perform(key: put.key.thread) { db in try Self.insert(put, runID: metadata["run_id"]?.stringValue, db, cache) }
        } catch { throw .from(error) }
    }

    public func putSync(_ put: CheckpointPut) throws(GraphError) -> Int64 {
        let metadata = try Self.validate(put)
        let cache = self.cache
        do {
            return try writer.performSync(key: put.key.thread) { db in try Self.insert(put, runID: metadata["run_id"]?.stringValue, db, cache) }
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
            _ = try await writer.perform(key: key.thread) { db in
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
        var channels = Set<String>()
        for (i, v) in put.newValues.enumerated() {
            guard !v.channel.isEmpty else { throw .invalidArgument(field: "new_values[\(i)].channel", reason: "must not be empty") }
            guard channels.insert(v.channel).inserted else {
                throw .invalidArgument(field: "new_values[\(i)].channel", reason: "\"\(v.channel)\" comes twice: send one value per channel")
            }
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
        // The checkpoint row first, in one statement that also detects a race: it is written
        // when new or when the stored one has the same parent (a retry), and returns no row when
        // the stored one has another parent. (A separate SELECT first cost a round trip per put
        // on PostgreSQL.) The values below are stored in the same transaction, so a refusal
        // leaves nothing behind.
        let sameParent = db.engine == .postgres
            ? "graph_checkpoints.parent_id IS NOT DISTINCT FROM excluded.parent_id"
            : "graph_checkpoints.parent_id IS excluded.parent_id"
        let checkpoint = RowCompression.encode(put.checkpoint.bytes)
        let versions = RowCompression.encode(GraphVersions.encode(put.versions))
        let written = try db.query("""
            INSERT INTO graph_checkpoints(thread_id, checkpoint_ns, checkpoint_id, parent_id, run_id, checkpoint_type,
                checkpoint, checkpoint_encoding, metadata_type, metadata, metadata_json, versions, versions_encoding, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET
                parent_id = excluded.parent_id, run_id = excluded.run_id, checkpoint_type = excluded.checkpoint_type,
                checkpoint = excluded.checkpoint, checkpoint_encoding = excluded.checkpoint_encoding,
                metadata_type = excluded.metadata_type, metadata = excluded.metadata, metadata_json = excluded.metadata_json,
                versions = excluded.versions, versions_encoding = excluded.versions_encoding, created_at = excluded.created_at
            WHERE \(sameParent)
            RETURNING checkpoint_id
            """, [.text(k.thread), .text(k.namespace), .text(k.checkpoint), put.parent.catalogValue, runID.catalogValue,
                  .text(put.checkpoint.type), .blob(checkpoint.bytes), checkpoint.encoding, .text(put.metadata.type), .blob(put.metadata.bytes),
                  .text(put.metadataJSON.isEmpty ? "{}" : put.metadataJSON), .blob(versions.bytes), versions.encoding,
                  .double(Date().timeIntervalSince1970)])
        if written.isEmpty {
            let parent = try db.queryOne("""
                SELECT parent_id FROM graph_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?
                """, k.thread, k.namespace, k.checkpoint)?.optionalText("parent_id")
            throw GraphError.conflict("\(k) already exists with parent \(parent ?? "(none)"), not \(put.parent ?? "(none)"): another writer stored it first; reload the thread and retry")
        }
        var newBytes: Int64 = 0
        var rows: [[CatalogValue]] = []
        for (i, update) in put.newValues.enumerated() {
            var stored = StoredValue(inline: nil, inlineEncoding: .null, valueID: nil, newBytes: 0)
            if let value = update.value {
                if let delta = update.delta {
                    let (bytes, chunked, base) = try resolve(delta, key: k, channel: update.channel, field: "new_values[\(i)].delta", db, cache)
                    stored = try storeValue(bytes, chunked: chunked, base: base, db, cache)
                } else {
                    stored = try storeValue(value.bytes, chunked: nil, db, cache)
                }
                newBytes += stored.newBytes
            }
            rows.append([.text(k.thread), .text(k.namespace), .text(update.channel), .text(update.version), update.value?.type.catalogValue ?? .null,
                         stored.inline.map(CatalogValue.blob) ?? .null, stored.inlineEncoding, stored.valueID.map(CatalogValue.blob) ?? .null])
        }
        // Every channel's row in one statement, sent without waiting for its answer.
        for batch in rows.batches(of: Self.rowsPerInsert) {
            try db.send("""
                INSERT INTO graph_channel_values(thread_id, checkpoint_ns, channel, version, value_type, inline_value, inline_encoding, value_id)
                VALUES \(Self.placeholders(rows: batch.count, columns: 8))
                ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO UPDATE SET
                    value_type = excluded.value_type, inline_value = excluded.inline_value, inline_encoding = excluded.inline_encoding,
                    value_id = excluded.value_id
                """, batch.flatMap { $0 })
        }
        return newBytes
    }

    /// Rows per multi-row `INSERT` of channel values or writes (a few per put in practice; the
    /// bound keeps a statement's arguments far below either engine's limit).
    static let rowsPerInsert = 64

    /// `(?, …), (?, …)`: `rows` rows of `columns` placeholders.
    static func placeholders(rows: Int, columns: Int) -> String {
        let row = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        return Array(repeating: row, count: rows).joined(separator: ", ")
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
            SELECT value_type, inline_value, inline_encoding, value_id FROM graph_channel_values
            WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?
            """, k.thread, k.namespace, channel, d.baseVersion), !row.isNull("value_type") else {
            throw GraphError.missingBase("channel \(channel) at version \(d.baseVersion) of thread \(k.thread)")
        }
        let baseID = row.optionalBlob("value_id")
        let what = "channel \(channel) of thread \(k.thread)"
        let base = try loadCached(inline: try RowCompression.inline(row, what: what), id: baseID, db, cache, what: what)
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
            ? "DO UPDATE SET channel = excluded.channel, task_path = excluded.task_path, value_type = excluded.value_type, inline_value = excluded.inline_value, inline_encoding = excluded.inline_encoding, value_id = excluded.value_id"
            : "DO NOTHING"
        var rows: [[CatalogValue]] = []
        for w in Self.onePerIndex(writes, keepLast: replace) {
            // A large normal write already stored is not chunked again; a small one costs nothing
            // to send again, and the insert keeps the stored one.
            if !replace, w.value.bytes.count > ChunkedValue.inlineLimit, try db.queryOne("""
                SELECT 1 AS present FROM graph_writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? AND task_id = ? AND idx = ?
                """, k.thread, k.namespace, k.checkpoint, taskID, w.index) != nil {
                continue
            }
            let stored = try storeValue(w.value.bytes, chunked: nil, db, cache)
            rows.append([.text(k.thread), .text(k.namespace), .text(k.checkpoint), .text(taskID), .int(w.index), .text(w.channel),
                         .text(taskPath), .text(w.value.type), stored.inline.map(CatalogValue.blob) ?? .null, stored.inlineEncoding,
                         stored.valueID.map(CatalogValue.blob) ?? .null])
        }
        // A task's writes in one statement, sent without waiting for its answer.
        for batch in rows.batches(of: rowsPerInsert) {
            try db.send("""
                INSERT INTO graph_writes(thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, task_path, value_type,
                    inline_value, inline_encoding, value_id)
                VALUES \(placeholders(rows: batch.count, columns: 11))
                ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) \(onConflict)
                """, batch.flatMap { $0 })
        }
    }

    /// Each index once. Two writes with one index in a call would make PostgreSQL refuse to
    /// touch a row twice in one statement; LangGraph never sends them, and the one kept is the one
    /// that won when rows were written one by one: the last when replacing, else the first.
    static func onePerIndex(_ writes: [PendingWrite], keepLast: Bool) -> [PendingWrite] {
        var seen = Set<Int64>()
        let kept = (keepLast ? writes.reversed() : writes).filter { seen.insert($0.index).inserted }
        return keepLast ? kept.reversed() : kept
    }

    /// The lock (`CatalogConnection.lock`) under which chunks and values are inserted.
    static let sharedRowsLock = "graph:chunks-and-values"

    struct StoredValue {
        /// A small value as stored in its row (compressed or not), and its `inline_encoding`.
        var inline: [UInt8]?
        var inlineEncoding: CatalogValue
        var valueID: [UInt8]?
        var newBytes: Int64
    }

    /// The data chunks and nodes of `value` that the catalog lacks. A delta's base vouches for its
    /// own data chunks while its value row is stored: a value is stored in the transaction that
    /// stores every chunk it lists, and a sweep removes chunks only with the values that list
    /// them. So a grown value looks up its new chunks and its nodes, not the hundreds of chunks it
    /// shares with its base.
    static func missingChunks(of value: ChunkedValue, vouched: Set<ChunkID>, _ db: any CatalogConnection) throws -> Set<ChunkID> {
        try GraphChunks.missing(value.pieces.lazy.map(\.id).filter { !vouched.contains($0) } + value.nodes.map(\.id), db)
    }

    /// Keeps a small value inline; stores a large one as chunks and nodes: those the catalog lacks,
    /// as it says in this transaction (a chunk this process stored may have been removed since by
    /// another). Returns the raw bytes of the data chunks it stored.
    /// `compressInline: false` keeps a small value's bytes as they are in its row (the memory
    /// store's, which SQL reads as JSON).
    static func storeValue(_ bytes: [UInt8], chunked: ChunkedValue?, base: DeltaBase? = nil, compressInline: Bool = true,
                           _ db: any CatalogConnection, _ cache: ValueCache) throws -> StoredValue {
        guard bytes.count > ChunkedValue.inlineLimit else {
            let row = compressInline ? RowCompression.encode(bytes) : (bytes: bytes, encoding: CatalogValue.null)
            return StoredValue(inline: row.bytes, inlineEncoding: row.encoding, valueID: nil, newBytes: 0)
        }
        let value = chunked ?? ChunkedValue(bytes)
        cache.put(value.id, CachedValue(bytes: bytes, pieces: value.pieces))
        // Whether the value is stored, and whether its delta base still is, in one round trip. A
        // stored value has every chunk it lists: a sweep removes a value before its chunks.
        let stored = Set(try db.query("SELECT id FROM graph_values WHERE id IN (?, ?)", [.blob(value.id), .blob(base?.id ?? value.id)])
            .map { try $0.blob("id") })
        if stored.contains(value.id) {
            return StoredValue(inline: nil, inlineEncoding: .null, valueID: value.id, newBytes: 0)
        }
        let vouched = base.map { stored.contains($0.id) ? $0.chunks : [] } ?? []
        var missing = try missingChunks(of: value, vouched: vouched, db)
        // Each missing chunk once (a value may repeat one), encoded, and inserted with the
        // missing nodes in as few statements as the shapes allow.
        let pieces = value.pieces.filter { missing.remove($0.id) != nil }
        let nodes = value.nodes.filter { missing.remove($0.id) != nil }
        let scratch = UnsafeMutableRawBufferPointer.allocate(
            byteCount: ZstdBlock.scratchCapacity(forRawLength: ChunkedValue.chunker.maxSize), alignment: 16)
        defer { scratch.deallocate() }
        let compressor = ZstdCompressor(level: GraphChunks.zstdLevel)
        var chunks = bytes.withUnsafeBytes { raw in
            pieces.map { GraphChunks.encode(UnsafeRawBufferPointer(rebasing: raw[$0.range]), id: $0.id, scratch: scratch, compressor: compressor) }
        }
        // Nodes are listings of chunk ids: random bytes, stored raw.
        chunks += nodes.map { GraphChunks.Stored(id: $0.id, encoding: .raw, rawLength: $0.bytes.count, data: $0.bytes) }
        // Chunks and values are shared between threads, whose writes run side by side on
        // PostgreSQL: one such writer at a time inserts them, so that two never wait for each
        // other's uncommitted rows in a circle (a deadlock PostgreSQL breaks only after a second).
        try db.lock(Self.sharedRowsLock)
        try GraphChunks.insert(chunks, db)
        // The chunks found missing, counted as new: one that another thread's writer stored
        // between the lookup and the insert (the same bytes at the same moment) is counted twice.
        let added = pieces.reduce(Int64(0)) { $0 + Int64($1.range.count) }
        try db.send("INSERT INTO graph_values(id, size, chunks) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    [.blob(value.id), .int(Int64(bytes.count)), .blob(value.listing)])
        return StoredValue(inline: nil, inlineEncoding: .null, valueID: value.id, newBytes: added)
    }
}
