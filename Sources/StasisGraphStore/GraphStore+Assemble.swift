import StasisCatalog

extension GraphStore {
    /// Checkpoints per statement when a batch of them is read.
    static let keysPerStatement = 32

    /// The checkpoints of `rows` (rows of `graph_checkpoints`, `columns`) with their channel
    /// values and pending writes, in the order of `rows`. The channel rows of the whole batch
    /// are read in one statement, and so are its writes: on PostgreSQL a listing of ten
    /// checkpoints costs three round trips, not thirty.
    func assemble(_ rows: [CatalogRow], _ db: any CatalogConnection) throws -> [CheckpointTuple] {
        var wanted: [(key: GraphKey, versions: [(channel: String, version: String)])] = []
        for row in rows {
            let key = try Self.key(row)
            guard let versions = GraphVersions.decode(try RowCompression.blob(row, "versions", encoding: "versions_encoding", what: "\(key): its channel versions")) else {
                throw GraphError.corrupt("\(key): its channel versions do not decode")
            }
            wanted.append((key, versions.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) }))
        }
        // Channel rows by (thread, namespace, channel, version): checkpoints of one thread share most.
        struct ChannelKey: Hashable { var thread, namespace, channel, version: String }
        let channelKeys = Set(wanted.flatMap { w in w.versions.map { ChannelKey(thread: w.key.thread, namespace: w.key.namespace, channel: $0.channel, version: $0.version) } })
        var channelRows: [ChannelKey: CatalogRow] = [:]
        for batch in Array(channelKeys).batches(of: Self.rowsPerInsert) {
            let match = Array(repeating: "(thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?)", count: batch.count)
                .joined(separator: " OR ")
            for row in try db.query("""
                SELECT thread_id, checkpoint_ns, channel, version, value_type, inline_value, inline_encoding, value_id FROM graph_channel_values WHERE \(match)
                """, batch.flatMap { [CatalogValue.text($0.thread), .text($0.namespace), .text($0.channel), .text($0.version)] }) {
                channelRows[ChannelKey(thread: try row.text("thread_id"), namespace: try row.text("checkpoint_ns"),
                                       channel: try row.text("channel"), version: try row.text("version"))] = row
            }
        }
        // Pending writes of the whole batch (a checkpoint's are few; large values load one by one).
        var writeRows: [GraphKey: [CatalogRow]] = [:]
        for batch in wanted.map(\.key).batches(of: Self.keysPerStatement) {
            for row in try db.query("""
                SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, task_path, value_type, inline_value, inline_encoding, value_id
                FROM graph_writes WHERE \(Self.keyMatch(batch.count)) ORDER BY task_id, idx
                """, batch.flatMap(Self.keyArguments)) {
                writeRows[try Self.key(row), default: []].append(row)
            }
        }
        return try zip(rows, wanted).map { row, w in
            let key = w.key
            var values: [ChannelUpdate] = []
            for (channel, version) in w.versions {
                guard let v = channelRows[ChannelKey(thread: key.thread, namespace: key.namespace, channel: channel, version: version)],
                      let type = v.optionalText("value_type") else { continue }  // none, or emptied at this version
                let what = "channel \(channel) of \(key)"
                let bytes = try loadValue(inline: try RowCompression.inline(v, what: what), id: v.optionalBlob("value_id"), db, what: what)
                values.append(ChannelUpdate(channel: channel, version: version, value: GraphValue(type: type, bytes: bytes)))
            }
            let writes = try (writeRows[key] ?? []).map { w in
                let what = "a write of \(key)"
                let bytes = try loadValue(inline: try RowCompression.inline(w, what: what), id: w.optionalBlob("value_id"), db, what: what)
                return PendingWrite(taskID: try w.text("task_id"), index: try w.int("idx"), channel: try w.text("channel"),
                                    value: GraphValue(type: try w.text("value_type"), bytes: bytes), taskPath: try w.text("task_path"))
            }
            return CheckpointTuple(key: key, parent: row.optionalText("parent_id"),
                                   checkpoint: GraphValue(type: try row.text("checkpoint_type"),
                                                          bytes: try RowCompression.blob(row, "checkpoint", encoding: "checkpoint_encoding", what: "\(key)")),
                                   metadata: GraphValue(type: try row.text("metadata_type"), bytes: try row.blob("metadata")),
                                   values: values, pendingWrites: writes)
        }
    }

    static func key(_ row: CatalogRow) throws -> GraphKey {
        GraphKey(thread: try row.text("thread_id"), namespace: try row.text("checkpoint_ns"), checkpoint: try row.text("checkpoint_id"))
    }

    /// `(thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?) OR …`, `count` times.
    static func keyMatch(_ count: Int) -> String {
        Array(repeating: "(thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?)", count: count).joined(separator: " OR ")
    }

    static func keyArguments(_ key: GraphKey) -> [CatalogValue] {
        [.text(key.thread), .text(key.namespace), .text(key.checkpoint)]
    }
}
