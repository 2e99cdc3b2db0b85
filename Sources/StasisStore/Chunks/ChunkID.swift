/// The name of a chunk: the SHA-256 of its uncompressed bytes.
///
/// Stored as four words so that equality is four compares and hashing feeds one word (the bytes are
/// already uniformly random, so one word spreads a hash table as well as all 32 bytes would).
public struct ChunkID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public static let byteCount = 32

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// Reads 32 bytes (big-endian words, so that hex and byte order agree).
    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= 32)
        w0 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var words = [UInt64](repeating: 0, count: 4)
        for (i, c) in utf8.enumerated() {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            words[i / 16] = words[i / 16] << 4 | UInt64(v)
        }
        self.init(w0: words[0], w1: words[1], w2: words[2], w3: words[3])
    }

    /// Appends the 32 bytes to `out` (no temporary array: manifests append a million of these).
    @inline(__always)
    public func append(to out: inout [UInt8]) {
        var words = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
        withUnsafeBytes(of: &words) { out.append(contentsOf: $0) }
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        append(to: &out)
        return out
    }

    public var hex: String {
        var s = ""
        s.reserveCapacity(64)
        for w in [w0, w1, w2, w3] {
            let h = String(w, radix: 16)
            s += String(repeating: "0", count: 16 - h.count) + h
        }
        return s
    }

    /// The first 12 hex digits, for messages and tables.
    public var short: String { String(hex.prefix(12)) }

    public var description: String { hex }

    public func hash(into hasher: inout Hasher) { hasher.combine(w0) }

    public static func < (a: ChunkID, b: ChunkID) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }
}
