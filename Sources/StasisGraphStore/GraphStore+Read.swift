import Crypto
import Foundation
import GRDB
import StasisJSON
import StasisStore

extension GraphStore {
    /// The checkpoint at `key` (the latest of its thread and namespace when `key.checkpoint` is
    /// empty), with its channel values and pending writes; nil when there is none.
    public func tuple(_ key: GraphKey) throws(GraphError) -> CheckpointTuple? {
        try Self.check(key.thread, "thread_id")
        return try read { db in
            let row: Row?
            if key.checkpoint.isEmpty {
                row = try Row.fetchOne(db.cachedStatement(sql: """
                    SELECT \(Self.columns) FROM graph_checkpoints WHERE thread_id = ? AND checkpoint_ns = ?
                    ORDER BY checkpoint_id DESC LIMIT 1
                    """), arguments: [key.thread, key.namespace])
            } else {
                row = try Row.fetchOne(db.cachedStatement(sql: """
                    SELECT \(Self.columns) FROM graph_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?
                    """), arguments: [key.thread, key.namespace, key.checkpoint])
            }
            guard let row else { return nil }
            return try assemble(row, db)
        }
    }

    /// Several checkpoints in one read transaction (a listing reads them in batches); a key that
    /// no longer exists is left out.
    public func tuples(_ keys: [GraphKey]) throws(GraphError) -> [CheckpointTuple] {
        try read { db in
            var out: [CheckpointTuple] = []
            let statement = try db.cachedStatement(sql: """
                SELECT \(Self.columns) FROM graph_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?
                """)
            for key in keys {
                guard let row = try Row.fetchOne(statement, arguments: [key.thread, key.namespace, key.checkpoint]) else { continue }
                out.append(try assemble(row, db))
            }
            return out
        }
    }

    /// Keys of the checkpoints `query` selects, newest first. Metadata filters and the limit are
    /// applied here; the tuples are read one by one with `tuple(_:)` so that a long listing never
    /// holds every value in memory.
    public func list(_ query: CheckpointQuery) throws(GraphError) -> [GraphKey] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let t = query.thread { conditions.append("thread_id = ?"); arguments.append(t) }
        if let ns = query.namespace { conditions.append("checkpoint_ns = ?"); arguments.append(ns) }
        if let id = query.checkpoint { conditions.append("checkpoint_id = ?"); arguments.append(id) }
        if let before = query.before { conditions.append("checkpoint_id < ?"); arguments.append(before) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let filter = query.metadataFilter
        let limit = query.limit.map { max(0, $0) }
        return try read { db in
            var keys: [GraphKey] = []
            let sqlLimit = filter.isEmpty && limit != nil ? " LIMIT \(limit!)" : ""
            let rows = try Row.fetchCursor(db, sql: """
                SELECT thread_id, checkpoint_ns, checkpoint_id, metadata_json FROM graph_checkpoints \(whereClause)
                ORDER BY checkpoint_id DESC, thread_id, checkpoint_ns\(sqlLimit)
                """, arguments: StatementArguments(arguments)!)
            while let row = try rows.next() {
                if let limit, keys.count >= limit { break }
                if !filter.isEmpty {
                    let json: String = row[3]
                    guard let metadata = (try? JSONValue.parse(json))?.objectValue, MetadataFilter.matches(metadata, filter) else { continue }
                }
                keys.append(GraphKey(thread: row[0], namespace: row[1], checkpoint: row[2]))
            }
            return keys
        }
    }

    static let columns = "thread_id, checkpoint_ns, checkpoint_id, parent_id, checkpoint_type, checkpoint, metadata_type, metadata, versions"

    func assemble(_ row: Row, _ db: Database) throws -> CheckpointTuple {
        let key = GraphKey(thread: row[0], namespace: row[1], checkpoint: row[2])
        let versionBytes: Data = row[8]
        guard let versions = GraphVersions.decode([UInt8](versionBytes)) else {
            throw GraphError.corrupt("\(key): its channel versions do not decode")
        }
        var values: [ChannelUpdate] = []
        let lookup = try db.cachedStatement(sql: """
            SELECT value_type, inline_value, value_id FROM graph_channel_values
            WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?
            """)
        for (channel, version) in versions.sorted(by: { $0.key < $1.key }) {
            guard let v = try Row.fetchOne(lookup, arguments: [key.thread, key.namespace, channel, version]) else { continue }
            guard let type: String = v[0] else { continue }  // emptied at this version
            let bytes = try loadValue(inline: v[1], id: v[2], db, what: "channel \(channel) of \(key)")
            values.append(ChannelUpdate(channel: channel, version: version, value: GraphValue(type: type, bytes: bytes)))
        }
        var writes: [PendingWrite] = []
        let writeRows = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT task_id, idx, channel, task_path, value_type, inline_value, value_id FROM graph_writes
            WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? ORDER BY task_id, idx
            """), arguments: [key.thread, key.namespace, key.checkpoint])
        while let w = try writeRows.next() {
            let bytes = try loadValue(inline: w[5], id: w[6], db, what: "a write of \(key)")
            writes.append(PendingWrite(taskID: w[0], index: w[1], channel: w[2], value: GraphValue(type: w[4], bytes: bytes), taskPath: w[3]))
        }
        let checkpoint: Data = row[5]
        let metadata: Data = row[7]
        return CheckpointTuple(key: key, parent: row[3], checkpoint: GraphValue(type: row[4], bytes: [UInt8](checkpoint)),
                               metadata: GraphValue(type: row[6], bytes: [UInt8](metadata)), values: values, pendingWrites: writes)
    }

    /// A value's bytes: inline, from the cache, or reassembled from its chunks with every chunk,
    /// node and the listing checked against their ids.
    func loadValue(inline: Data?, id: Data?, _ db: Database, what: String) throws -> [UInt8] {
        try Self.loadCached(inline: inline, id: id, db, cache, what: what).bytes
    }

    static func loadCached(inline: Data?, id: Data?, _ db: Database, _ cache: ValueCache, what: String) throws -> CachedValue {
        if let inline { return CachedValue(bytes: [UInt8](inline), pieces: []) }
        guard let id else { return CachedValue(bytes: [], pieces: []) }
        let idBytes = [UInt8](id)
        if let cached = cache.get(idBytes) { return cached }
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT size, chunks FROM graph_values WHERE id = ?"), arguments: [id]) else {
            throw GraphError.corrupt("\(what): value \(idBytes.hex) is missing")
        }
        let size: Int = row[0]
        let listing = [UInt8](row[1] as Data)
        guard Array(SHA256.hash(data: listing)) == idBytes, let nodes = ChunkedValue.decodeEntries(listing),
              nodes.reduce(0, { $0 + $1.length }) == size else {
            throw GraphError.corrupt("\(what): value \(idBytes.hex) has a damaged listing")
        }
        var out = [UInt8](repeating: 0, count: size)
        var pieces: [ChunkedValue.Piece] = []
        var at = 0
        for node in nodes {
            guard let nodeBytes = try chunk(node.id, db), let entries = ChunkedValue.decodeEntries(nodeBytes),
                  entries.reduce(0, { $0 + $1.length }) == node.length else {
                throw GraphError.corrupt("\(what): listing node \(node.id.short) is missing or damaged")
            }
            for e in entries {
                guard let bytes = try chunk(e.id, db), bytes.count == e.length else {
                    throw GraphError.corrupt("\(what): chunk \(e.id.short) is missing or damaged")
                }
                out.replaceSubrange(at..<(at + e.length), with: bytes)
                pieces.append(ChunkedValue.Piece(id: e.id, range: at..<(at + e.length)))
                at += e.length
            }
        }
        let value = CachedValue(bytes: out, pieces: pieces)
        cache.put(idBytes, value)
        return value
    }

    /// A stored chunk's raw bytes, checked against its id; nil when missing or damaged.
    static func chunk(_ id: ChunkID, _ db: Database) throws -> [UInt8]? {
        guard let c = try Row.fetchOne(db.cachedStatement(sql: "SELECT encoding, raw_length, data FROM graph_chunks WHERE id = ?"),
                                       arguments: [Data(id.bytes)]) else { return nil }
        let encoding: Int = c[0]
        let rawLength: Int = c[1]
        let data: Data = c[2]
        guard rawLength >= 0, rawLength <= 1 << 24 else { return nil }
        var out = [UInt8](repeating: 0, count: rawLength)
        let ok: Bool = data.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                if encoding == Int(ChunkEncoding.lz4.rawValue) { return ChunkCodec.decompress(src, into: dst) }
                guard encoding == Int(ChunkEncoding.raw.rawValue), src.count == dst.count else { return false }
                dst.copyMemory(from: src)
                return true
            }
        }
        guard ok, ChunkHasher.id(of: out) == id else { return nil }
        return out
    }
}

extension Array where Element == UInt8 {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
