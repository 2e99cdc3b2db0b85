import Crypto
import Foundation
import StasisCatalog
import StasisJSON
import StasisStore

extension GraphStore {
    /// The checkpoint at `key` (the latest of its thread and namespace when `key.checkpoint` is
    /// empty), with its channel values and pending writes; nil when there is none.
    public func tuple(_ key: GraphKey) throws(GraphError) -> CheckpointTuple? {
        try Self.check(key.thread, "thread_id")
        return try read { db in
            let row: CatalogRow?
            if key.checkpoint.isEmpty {
                row = try db.queryOne("""
                    SELECT \(Self.columns) FROM graph_checkpoints WHERE thread_id = ? AND checkpoint_ns = ?
                    ORDER BY checkpoint_id DESC LIMIT 1
                    """, key.thread, key.namespace)
            } else {
                row = try db.queryOne("""
                    SELECT \(Self.columns) FROM graph_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?
                    """, key.thread, key.namespace, key.checkpoint)
            }
            guard let row else { return nil }
            return try assemble([row], db).first
        }
    }

    /// Several checkpoints in one read transaction (a listing reads them in batches); a key that
    /// no longer exists is left out.
    public func tuples(_ keys: [GraphKey]) throws(GraphError) -> [CheckpointTuple] {
        guard !keys.isEmpty else { return [] }
        return try read { db in
            var rows: [GraphKey: CatalogRow] = [:]
            for batch in Array(Set(keys)).batches(of: Self.keysPerStatement) {
                for row in try db.query("SELECT \(Self.columns) FROM graph_checkpoints WHERE \(Self.keyMatch(batch.count))",
                                        batch.flatMap(Self.keyArguments)) {
                    rows[try Self.key(row)] = row
                }
            }
            return try assemble(keys.compactMap { rows[$0] }, db)
        }
    }

    /// Keys of the checkpoints `query` selects, newest first. Metadata filters and the limit are
    /// applied here; the tuples are read one by one with `tuple(_:)` so that a long listing never
    /// holds every value in memory.
    public func list(_ query: CheckpointQuery) throws(GraphError) -> [GraphKey] {
        var conditions: [String] = []
        var arguments: [CatalogValue] = []
        if let t = query.thread { conditions.append("thread_id = ?"); arguments.append(.text(t)) }
        if let ns = query.namespace { conditions.append("checkpoint_ns = ?"); arguments.append(.text(ns)) }
        if let id = query.checkpoint { conditions.append("checkpoint_id = ?"); arguments.append(.text(id)) }
        if let before = query.before { conditions.append("checkpoint_id < ?"); arguments.append(.text(before)) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let filter = query.metadataFilter
        let limit = query.limit.map { max(0, $0) }
        // Without a metadata filter the catalog applies the limit; with one, the scan stops once enough matched.
        var sqlLimit = ""
        if filter.isEmpty, let limit {
            sqlLimit = " LIMIT ?"
            arguments.append(.int(Int64(limit)))
        }
        let sql = """
            SELECT thread_id, checkpoint_ns, checkpoint_id, metadata_json FROM graph_checkpoints \(whereClause)
            ORDER BY checkpoint_id DESC, thread_id, checkpoint_ns\(sqlLimit)
            """
        return try read { db in
            // A short listing without filters is read whole, in one statement (a cursor costs
            // three round trips on PostgreSQL).
            if !sqlLimit.isEmpty, let limit, limit <= 1000 {
                return try db.query(sql, arguments).map { row in
                    GraphKey(thread: try row.text("thread_id"), namespace: try row.text("checkpoint_ns"), checkpoint: try row.text("checkpoint_id"))
                }
            }
            var keys: [GraphKey] = []
            do {
                try db.forEachRow(sql, arguments) { row in
                    if let limit, keys.count >= limit { throw EnoughRows() }
                    if !filter.isEmpty {
                        let json = try row.text("metadata_json")
                        guard let metadata = (try? JSONValue.parse(json))?.objectValue, MetadataFilter.matches(metadata, filter) else { return }
                    }
                    keys.append(GraphKey(thread: try row.text("thread_id"), namespace: try row.text("checkpoint_ns"),
                                         checkpoint: try row.text("checkpoint_id")))
                }
            } catch is EnoughRows {}
            return keys
        }
    }

    /// Stops a scan that has found what it needs.
    private struct EnoughRows: Error {}

    static let columns = """
        thread_id, checkpoint_ns, checkpoint_id, parent_id, checkpoint_type, checkpoint, checkpoint_encoding, metadata_type, metadata,
        versions, versions_encoding
        """

    /// A value's bytes: inline, from the cache, or reassembled from its chunks with every chunk,
    /// node and the listing checked against their ids.
    func loadValue(inline: [UInt8]?, id: [UInt8]?, _ db: any CatalogConnection, what: String) throws -> [UInt8] {
        try Self.loadCached(inline: inline, id: id, db, cache, what: what).bytes
    }

    static func loadCached(inline: [UInt8]?, id: [UInt8]?, _ db: any CatalogConnection, _ cache: ValueCache, what: String) throws -> CachedValue {
        if let inline { return CachedValue(bytes: inline, pieces: []) }
        guard let id else { return CachedValue(bytes: [], pieces: []) }
        if let cached = cache.get(id) { return cached }
        guard let row = try db.queryOne("SELECT size, chunks FROM graph_values WHERE id = ?", id) else {
            throw GraphError.corrupt("\(what): value \(id.hex) is missing")
        }
        let size = Int(try row.int("size"))
        let listing = try row.blob("chunks")
        guard Array(SHA256.hash(data: listing)) == id, let nodes = ChunkedValue.decodeEntries(listing),
              nodes.reduce(0, { $0 + $1.length }) == size else {
            throw GraphError.corrupt("\(what): value \(id.hex) has a damaged listing")
        }
        let entries = try listedChunks(nodes, db, what: what)
        var out = [UInt8](repeating: 0, count: size)
        var pieces: [ChunkedValue.Piece] = []
        pieces.reserveCapacity(entries.count)
        var at = 0
        // A statement's worth of chunks at a time: a large value is never held twice over.
        for batch in entries.batches(of: GraphChunks.idsPerStatement) {
            let chunks = try GraphChunks.load(batch.map(\.id), db)
            for e in batch {
                guard let bytes = chunks[e.id], bytes.count == e.length else {
                    throw GraphError.corrupt("\(what): chunk \(e.id.short) is missing or damaged")
                }
                out.replaceSubrange(at..<(at + e.length), with: bytes)
                pieces.append(ChunkedValue.Piece(id: e.id, range: at..<(at + e.length)))
                at += e.length
            }
        }
        let value = CachedValue(bytes: out, pieces: pieces)
        cache.put(id, value)
        return value
    }

    /// The data chunks that a value's listing nodes list, in order; each node checked against its
    /// id and the length the listing gives it.
    static func listedChunks(_ nodes: [(length: Int, id: ChunkID)], _ db: any CatalogConnection, what: String) throws -> [(length: Int, id: ChunkID)] {
        var entries: [(length: Int, id: ChunkID)] = []
        for batch in nodes.batches(of: GraphChunks.idsPerStatement) {
            let stored = try GraphChunks.load(batch.map(\.id), db)
            for node in batch {
                guard let bytes = stored[node.id], let listed = ChunkedValue.decodeEntries(bytes),
                      listed.reduce(0, { $0 + $1.length }) == node.length else {
                    throw GraphError.corrupt("\(what): listing node \(node.id.short) is missing or damaged")
                }
                entries += listed
            }
        }
        return entries
    }
}

extension Array where Element == UInt8 {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
