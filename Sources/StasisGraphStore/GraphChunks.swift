import StasisCatalog
import StasisStore

/// The `graph_chunks` table, read and written many rows per statement: a value has hundreds of
/// chunks, and on PostgreSQL every statement is a round trip. Statements come in a few fixed
/// shapes whatever the number of chunks, so that their text repeats and SQLite keeps them prepared.
///
/// Whether a chunk is stored is always asked of the catalog, inside the caller's transaction,
/// never remembered: another process (a daemon on another host, a prune from the command line)
/// may have removed it since. Inserts are idempotent all the same.
enum GraphChunks {
    /// A chunk as stored: `data` is `encoding` applied to `rawLength` bytes whose SHA-256 is `id`.
    struct Stored {
        var id: ChunkID
        var encoding: FrameCodec
        var rawLength: Int
        var data: [UInt8]
    }

    /// Ids per statement that looks up, loads or deletes chunks.
    static let idsPerStatement = 64
    /// Rows per insert statement: as many of the largest shape as fit, then the next smaller
    /// (SQLite, which keeps each text prepared). PostgreSQL plans every statement anyway and
    /// pays a round trip for each, so there the rest goes in one statement of its own size.
    static let insertShapes = [32, 16, 8, 4, 2, 1]

    /// Those of `ids` that the catalog does not hold. The catalog answers with the missing ids
    /// only: most of a value's chunks are usually stored already.
    static func missing(_ ids: some Sequence<ChunkID>, _ db: any CatalogConnection) throws -> Set<ChunkID> {
        var missing = Set<ChunkID>()
        for batch in idBatches(Array(Set(ids))) {
            for row in try db.query(missingStatement, batch) {
                if let id = chunkID(try row.blob("id")) { missing.insert(id) }
            }
        }
        return missing
    }

    /// The raw bytes of those of `ids` that are stored and intact (decoded, checked against their
    /// id); a chunk missing or damaged is simply absent from the result.
    static func load(_ ids: some Sequence<ChunkID>, _ db: any CatalogConnection) throws -> [ChunkID: [UInt8]] {
        var out: [ChunkID: [UInt8]] = [:]
        for batch in idBatches(Array(Set(ids))) {
            for row in try db.query("SELECT id, encoding, raw_length, data FROM graph_chunks WHERE id IN \(idList)", batch) {
                // A chunk whose id or encoding this code cannot read is damaged: left out.
                guard let id = chunkID(try row.blob("id")),
                      let encoding = UInt8(exactly: try row.int("encoding")).flatMap(FrameCodec.init(rawValue:)) else { continue }
                let chunk = Stored(id: id, encoding: encoding, rawLength: Int(try row.int("raw_length")), data: try row.blob("data"))
                out[id] = decode(chunk)
            }
        }
        return out
    }

    /// Stores the chunks not stored yet (a chunk stored meanwhile by another writer is left as
    /// it is). The inserts are sent without waiting for their answers (`CatalogConnection.send`).
    static func insert(_ chunks: [Stored], _ db: any CatalogConnection) throws {
        var rest = chunks[...]
        while !rest.isEmpty {
            let n = db.engine == .postgres ? min(rest.count, insertShapes[0]) : insertShapes.first { $0 <= rest.count }!
            let rows = rest.prefix(n)
            rest = rest.dropFirst(n)
            let values = rows.flatMap { c -> [CatalogValue] in [.blob(c.id.bytes), .int(Int64(c.encoding.rawValue)), .int(Int64(c.rawLength)), .blob(c.data)] }
            try db.send(insertStatements[n] ?? insertStatement(rows: n), values)
        }
    }

    /// Removes the chunks with these ids.
    static func delete(_ ids: some Sequence<ChunkID>, _ db: any CatalogConnection) throws {
        for batch in idBatches(Array(ids)) { try db.execute("DELETE FROM graph_chunks WHERE id IN \(idList)", batch) }
    }

    /// A chunk stored zstd-compressed when that saves space, raw otherwise. `scratch` holds at
    /// least `ZstdBlock.scratchCapacity` bytes for the chunker's largest chunk.
    ///
    /// zstd, not LZ4: on LangGraph's state (messages: prose and JSON) in 2 KiB chunks, zstd -3
    /// stores 1.5× less (the benchmark's text: 2.36× smaller than raw against LZ4's 1.57×), and
    /// at a few KiB per step its speed is not what a step waits for. Chunks written LZ4 by
    /// earlier versions are still read.
    static func encode(_ raw: UnsafeRawBufferPointer, id: ChunkID, scratch: UnsafeMutableRawBufferPointer, compressor: ZstdCompressor) -> Stored {
        if let n = compressor.compress(raw, into: scratch) {
            return Stored(id: id, encoding: .zstd, rawLength: raw.count, data: Array(UnsafeRawBufferPointer(rebasing: scratch[0..<n])))
        }
        return Stored(id: id, encoding: .raw, rawLength: raw.count, data: Array(raw))
    }

    /// The zstd level of new chunks.
    static let zstdLevel = 3

    /// A stored chunk's raw bytes, checked against its id; nil when they do not decode or check out.
    static func decode(_ chunk: Stored) -> [UInt8]? {
        guard chunk.rawLength >= 0, chunk.rawLength <= 1 << 24 else { return nil }
        var out = [UInt8](repeating: 0, count: chunk.rawLength)
        let ok: Bool = chunk.data.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                switch chunk.encoding {
                case .lz4: return LZ4Block.decompress(src, into: dst)
                case .zstd: return ZstdBlock.decompress(src, into: dst)
                case .raw:
                    guard src.count == dst.count else { return false }
                    dst.copyMemory(from: src)
                    return true
                }
            }
        }
        guard ok, ChunkHasher.id(of: out) == chunk.id else { return nil }
        return out
    }

    /// A chunk id read from the catalog; nil when the column does not hold 32 bytes.
    static func chunkID(_ bytes: [UInt8]) -> ChunkID? {
        guard bytes.count == ChunkID.byteCount else { return nil }
        return bytes.withUnsafeBytes { ChunkID(bytes: $0) }
    }

    /// `(?, ?, …)` for `idsPerStatement` ids.
    static let idList = "(" + Array(repeating: "?", count: idsPerStatement).joined(separator: ", ") + ")"

    /// The ids of a batch as the rows of a `VALUES` list (whose column both engines call
    /// `column1`), those not in `graph_chunks` returned.
    static let missingStatement = "SELECT column1 AS id FROM (VALUES " + Array(repeating: "(?)", count: idsPerStatement).joined(separator: ", ")
        + ") AS v WHERE NOT EXISTS (SELECT 1 FROM graph_chunks c WHERE c.id = v.column1)"

    /// `ids` as the arguments of statements of `idsPerStatement` ids each. The last batch repeats
    /// its last id to fill up, so that every statement has the same text (an id twice changes
    /// nothing: an `IN` list is a set, and answers are collected by id).
    static func idBatches(_ ids: [ChunkID]) -> [[CatalogValue]] {
        ids.batches(of: idsPerStatement).map { ids in
            let batch = ids.map { CatalogValue.blob($0.bytes) }
            return batch + repeatElement(batch.last!, count: idsPerStatement - batch.count)
        }
    }

    /// The insert of each shape, by its number of rows.
    static let insertStatements = Dictionary(uniqueKeysWithValues: insertShapes.map { ($0, insertStatement(rows: $0)) })

    static func insertStatement(rows: Int) -> String {
        "INSERT INTO graph_chunks(id, encoding, raw_length, data) VALUES "
            + Array(repeating: "(?, ?, ?, ?)", count: rows).joined(separator: ", ")
            + " ON CONFLICT (id) DO NOTHING"
    }
}

extension Array {
    /// Consecutive runs of up to `size` elements.
    func batches(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
