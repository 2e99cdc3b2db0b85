import Crypto
import StasisChunking
import StasisStore

/// A large value cut into content-defined chunks, listed by a two-level tree so that a value that
/// grows by a little per step also costs a little per step in its listing.
///
/// - Data chunks: the first `headerLength` bytes are a chunk of their own, then FastCDC (min 512,
///   average 2048, max 16384 bytes), tuned for LangGraph state, which typically grows by a message
///   (1–4 KB) per step: a step costs its new bytes plus the chunk or two around the edit. The
///   header chunk is there because serialised lists start with their length, which changes at
///   every step: without it the whole first chunk would be stored again each time.
/// - Nodes: the data chunks' entries (u32 length, 32-byte id) grouped into nodes, the header
///   chunk alone in the first, then a node ending after an entry whose id starts with four zero
///   bits (so about 16 entries, at most 64). The
///   boundaries depend only on the entries, so a grown value shares every node but the last one
///   or two with the value it grew from. Nodes are stored as chunks themselves.
/// - The value's listing (`graph_values.chunks`) is (u32 length covered, 32-byte node id) per
///   node, and the value's id is the SHA-256 of that listing: a Merkle root over every byte.
struct ChunkedValue {
    /// Part of the stored format: changing it stops new values from sharing chunks with old ones.
    static let chunker = try! FastCDC(minSize: 512, averageSize: 2048, maxSize: 16384)
    /// Values up to this size are kept inline in their row; chunking them would cost more than it saves.
    static let inlineLimit = 4096
    static let headerLength = 64
    static let maxNodeEntries = 64
    static let entrySize = 36

    struct Piece: Sendable {
        var id: ChunkID
        var range: Range<Int>
    }

    struct Node: Sendable {
        var id: ChunkID
        var bytes: [UInt8]
        var length: Int
    }

    var pieces: [Piece]
    var nodes: [Node]
    var listing: [UInt8]
    var id: [UInt8]

    /// Chunks `bytes` from scratch.
    init(_ bytes: [UInt8]) {
        self.init(pieces: Self.cut(bytes, from: 0))
    }

    /// Chunks a value known to be `head + base[copy] + tail`, reusing the base's chunks inside the
    /// copied range without reading or hashing them again. The result is exactly what chunking
    /// `bytes` from scratch gives: a FastCDC cut depends only on the bytes of its own chunk, so a
    /// base chunk that starts where the new value's cut sequence arrives, lies inside the copied
    /// range and was not cut by the end of the base, is cut the same way in the new value (the
    /// header chunk is cut by position, but it starts at 0 in both, so it is reused only when the
    /// copied range starts at 0 too).
    init(_ bytes: [UInt8], headLength: Int, base: [Piece], baseCount: Int, copy: Range<Int>) {
        let shift = headLength - copy.lowerBound
        var startIndex: [Int: Int] = [:]
        for (i, p) in base.enumerated() where p.range.lowerBound >= copy.lowerBound && p.range.upperBound <= copy.upperBound
            && p.range.upperBound < baseCount && (p.range.lowerBound >= Self.headerLength || shift == 0) {
            startIndex[p.range.lowerBound] = i
        }
        var pieces: [Piece] = []
        var pos = 0
        while pos < bytes.count {
            // The header chunk is cut by position: only a base chunk arriving where the new value
            // is cut by content (or the base's own header chunk, unmoved) can be reused.
            if pos >= Self.headerLength || (pos == 0 && shift == 0), var i = startIndex[pos - shift] {
                while i < base.count, startIndex[base[i].range.lowerBound] == i {
                    pieces.append(Piece(id: base[i].id, range: (base[i].range.lowerBound + shift)..<(base[i].range.upperBound + shift)))
                    pos = base[i].range.upperBound + shift
                    i += 1
                }
                continue
            }
            let next = Self.cut(bytes, from: pos, limit: 1)
            pieces.append(contentsOf: next)
            pos = next.last!.range.upperBound
        }
        self.init(pieces: pieces)
    }

    private init(pieces: [Piece]) {
        self.pieces = pieces
        var nodes: [Node] = []
        var current: [UInt8] = []
        var covered = 0
        var entries = 0
        func close() {
            guard entries > 0 else { return }
            nodes.append(Node(id: ChunkHasher.id(of: current), bytes: current, length: covered))
            current = []
            covered = 0
            entries = 0
        }
        for p in pieces {
            Self.appendEntry(&current, length: p.range.count, id: p.id)
            covered += p.range.count
            entries += 1
            // The header chunk (a list's length, new at every step) is a node of its own: in the
            // first node it made that node new at every step too, 16 entries (576 bytes) on
            // average. Readers take any grouping; only the writer decides it.
            let header = p.range.lowerBound == 0 && p.range.count == Self.headerLength
            if header || p.id.w0 >> 60 == 0 || entries == Self.maxNodeEntries { close() }
        }
        close()
        self.nodes = nodes
        var listing: [UInt8] = []
        listing.reserveCapacity(nodes.count * Self.entrySize)
        for n in nodes { Self.appendEntry(&listing, length: n.length, id: n.id) }
        self.listing = listing
        self.id = Array(SHA256.hash(data: listing))
    }

    /// Cuts up to `limit` chunks starting at `from`.
    static func cut(_ bytes: [UInt8], from: Int, limit: Int = .max) -> [Piece] {
        var out: [Piece] = []
        bytes.withUnsafeBytes { raw in
            var pos = from
            while pos < raw.count, out.count < limit {
                let n = pos < headerLength ? min(headerLength - pos, raw.count - pos)
                    : chunker.nextBoundary(in: UnsafeRawBufferPointer(rebasing: raw[pos...]))
                out.append(Piece(id: ChunkHasher.id(of: UnsafeRawBufferPointer(rebasing: raw[pos..<(pos + n)])), range: pos..<(pos + n)))
                pos += n
            }
        }
        return out
    }

    static func appendEntry(_ out: inout [UInt8], length: Int, id: ChunkID) {
        let n = UInt32(length)
        out.append(contentsOf: [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)])
        id.append(to: &out)
    }

    /// Decodes a listing or a node: (length, id) entries; nil when not a whole number of entries.
    static func decodeEntries(_ bytes: [UInt8]) -> [(length: Int, id: ChunkID)]? {
        guard bytes.count % entrySize == 0 else { return nil }
        var out: [(Int, ChunkID)] = []
        out.reserveCapacity(bytes.count / entrySize)
        bytes.withUnsafeBytes { raw in
            var at = 0
            while at < raw.count {
                let n = Int(raw[at]) | Int(raw[at + 1]) << 8 | Int(raw[at + 2]) << 16 | Int(raw[at + 3]) << 24
                out.append((n, ChunkID(bytes: UnsafeRawBufferPointer(rebasing: raw[(at + 4)..<(at + entrySize)]))))
                at += entrySize
            }
        }
        return out
    }
}
