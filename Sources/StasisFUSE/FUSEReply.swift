import CFUSE

/// Replies in the kernel's layout: a `fuse_out_header` (length, negated errno, the request's id)
/// followed by the operation's struct or data.
public enum FUSEReply {
    static let headerSize = MemoryLayout<fuse_out_header>.size

    /// An error reply: `errno` is positive here and negated on the wire.
    public static func error(_ unique: UInt64, _ errno: Int32) -> [UInt8] {
        frame(unique, error: -errno, payloadCount: 0) { _ in }
    }

    /// A reply whose payload is one struct.
    public static func value<T>(_ unique: UInt64, _ value: T) -> [UInt8] {
        var v = value
        return withUnsafeBytes(of: &v) { raw in
            frame(unique, error: 0, payloadCount: raw.count) { $0.copyMemory(from: raw) }
        }
    }

    /// A reply of `count` bytes of data that `fill` writes in place.
    public static func data(_ unique: UInt64, count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        frame(unique, error: 0, payloadCount: count, fill)
    }

    static func frame(_ unique: UInt64, error: Int32, payloadCount: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        let total = headerSize + payloadCount
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.storeBytes(of: fuse_out_header(len: UInt32(total), error: error, unique: unique), as: fuse_out_header.self)
            fill(UnsafeMutableRawBufferPointer(rebasing: raw[headerSize...]))
            initialized = total
        }
    }
}
