import Crypto
import StasisChunking
import StasisStore

/// A large value cut into content-defined chunks. The chunker is tuned for LangGraph state, where
/// a value typically grows by a message (1–4 KB) per step: smaller chunks than the blob store's, so
/// that a step costs about its new bytes plus one or two chunks around the edit.
struct ChunkedValue {
    /// Part of the stored format: changing it stops new values from sharing chunks with old ones.
    static let chunker = try! FastCDC(minSize: 512, averageSize: 2048, maxSize: 16384)
    /// Values up to this size are kept inline in their row; chunking them would cost more than it saves.
    static let inlineLimit = 1024

    struct Piece {
        var id: ChunkID
        var range: Range<Int>
    }

    /// SHA-256 of the whole value.
    var id: [UInt8]
    var pieces: [Piece]

    init(_ bytes: [UInt8]) {
        id = Array(SHA256.hash(data: bytes))
        var pieces: [Piece] = []
        bytes.withUnsafeBytes { raw in
            for range in Self.chunker.chunks(of: raw) {
                pieces.append(Piece(id: ChunkHasher.id(of: UnsafeRawBufferPointer(rebasing: raw[range])), range: range))
            }
        }
        self.pieces = pieces
    }

    /// The `graph_values.chunks` column: (u32 little-endian length, 32-byte chunk id) per piece.
    var encodedChunkList: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(pieces.count * 36)
        for p in pieces {
            let n = UInt32(p.range.count)
            out.append(contentsOf: [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)])
            p.id.append(to: &out)
        }
        return out
    }

    /// Decodes a chunk list; nil when it is not a whole number of entries.
    static func decodeChunkList(_ bytes: [UInt8]) -> [(length: Int, id: ChunkID)]? {
        guard bytes.count % 36 == 0 else { return nil }
        var out: [(Int, ChunkID)] = []
        out.reserveCapacity(bytes.count / 36)
        bytes.withUnsafeBytes { raw in
            var at = 0
            while at < raw.count {
                let n = Int(raw[at]) | Int(raw[at + 1]) << 8 | Int(raw[at + 2]) << 16 | Int(raw[at + 3]) << 24
                out.append((n, ChunkID(bytes: UnsafeRawBufferPointer(rebasing: raw[(at + 4)..<(at + 36)]))))
                at += 36
            }
        }
        return out
    }
}
