/// Embeddings as stored (`memory_vectors.vector`): little-endian IEEE-754 float32s, and the
/// cosine similarity a search ranks by.
enum MemoryVectors {
    static func encode(_ values: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 4)
        for v in values {
            let bits = v.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// nil when the blob is not a whole number of float32s.
    static func decode(_ bytes: [UInt8]) -> [Float]? {
        guard bytes.count % 4 == 0 else { return nil }
        return stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }

    /// Cosine similarity of two vectors of one length, in double precision; 0 when either is zero.
    static func cosine(_ x: [Float], _ y: [Float]) -> Double {
        var dot = 0.0, nx = 0.0, ny = 0.0
        for i in x.indices {
            let a = Double(x[i]), b = Double(y[i])
            dot += a * b
            nx += a * a
            ny += b * b
        }
        guard nx > 0, ny > 0 else { return 0 }
        return dot / (nx.squareRoot() * ny.squareRoot())
    }
}
