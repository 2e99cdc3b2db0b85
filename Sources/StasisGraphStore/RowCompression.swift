import StasisCatalog
import StasisStore
import Synchronization

/// Blobs kept in the graph tables' rows — a checkpoint, its channel versions, a small channel
/// value, a small pending write — stored as one zstd frame when that saves space, raw otherwise.
/// The row's `*_encoding` column says which: NULL is raw (every row written before
/// `graph:v5-row-compression`), 2 is zstd, the numbering of `graph_chunks.encoding`.
///
/// Why: after a 200-step agent loop, rows held 1.8 of the store's 4.4 MB, nearly all of it raw
/// serialised messages (pending writes, 1.4 KB median, 2.0× smaller under zstd -3) and
/// checkpoints (0.8 KB median, 2.5×); the channel versions, 50-character strings with a long
/// zero prefix, shrink too. Chunks of large values were compressed already; rows were not.
enum RowCompression {
    static let zstd: Int64 = 2
    /// Smaller blobs are kept raw: a zstd frame's own header and the column cost more than they save.
    static let minimumLength = 96
    /// The largest blob a row may decode to (the daemon's largest message).
    static let decodedLimit = 256 << 20

    /// The bytes to store and the value of their encoding column.
    static func encode(_ bytes: [UInt8]) -> (bytes: [UInt8], encoding: CatalogValue) {
        guard bytes.count >= minimumLength else { return (bytes, .null) }
        let pooled = compressors.withLock { $0.popLast() } ?? PooledCompressor()
        defer { compressors.withLock { $0.append(pooled) } }
        let compressor = pooled.compressor
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: ZstdBlock.scratchCapacity(forRawLength: bytes.count), alignment: 16)
        defer { scratch.deallocate() }
        let n = bytes.withUnsafeBytes { compressor.compress($0, into: scratch) }
        guard let n else { return (bytes, .null) }
        return (Array(UnsafeRawBufferPointer(rebasing: scratch[0..<n])), .int(zstd))
    }

    /// The bytes a row holds, decoded by its encoding column; `what` names the row in the error.
    static func decode(_ stored: [UInt8], encoding: Int64?, what: @autoclosure () -> String) throws(GraphError) -> [UInt8] {
        switch encoding {
        case nil, 0?:
            return stored
        case zstd?:
            let decoded: [UInt8]? = stored.withUnsafeBytes { src in
                guard let size = ZstdBlock.frameContentSize(src, limit: decodedLimit) else { return nil }
                guard size > 0 else { return [] }
                var out = [UInt8](repeating: 0, count: size)
                let ok = out.withUnsafeMutableBytes { ZstdBlock.decompress(src, into: $0) }
                return ok ? out : nil
            }
            guard let decoded else { throw .corrupt("\(what()): its zstd-compressed bytes do not decode") }
            return decoded
        case let other?:
            throw .corrupt("\(what()): unknown encoding \(other) (a newer stasis wrote it? upgrade stasis)")
        }
    }

    /// `column` of `row`, decoded by `column`'s encoding column (`encodingColumn`).
    static func blob(_ row: CatalogRow, _ column: String, encoding encodingColumn: String, what: @autoclosure () -> String) throws -> [UInt8] {
        try requireSelected(encodingColumn, row)
        return try decode(try row.blob(column), encoding: row.optionalInt(encodingColumn), what: what())
    }

    /// The decoded inline value of a `graph_channel_values` or `graph_writes` row, nil when the
    /// value is chunked (or the channel emptied).
    static func inline(_ row: CatalogRow, what: @autoclosure () -> String) throws -> [UInt8]? {
        guard let stored = row.optionalBlob("inline_value") else { return nil }
        try requireSelected("inline_encoding", row)
        return try decode(stored, encoding: row.optionalInt("inline_encoding"), what: what())
    }

    /// A query that reads a blob without its encoding column would hand out compressed bytes as
    /// the value: refused, whatever the row holds.
    private static func requireSelected(_ column: String, _ row: CatalogRow) throws(GraphError) {
        guard row.columns.contains(column) else { throw .corrupt("internal error: a graph query read a blob without its \(column) column") }
    }

    /// Compression contexts are reused (creating one per value costs more than compressing it);
    /// each is used by one thread at a time, taken from and given back to the pool.
    private final class PooledCompressor: @unchecked Sendable {
        let compressor = ZstdCompressor(level: GraphChunks.zstdLevel)
    }
    private static let compressors = Mutex<[PooledCompressor]>([])
}
