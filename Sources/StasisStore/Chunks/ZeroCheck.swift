/// Whether a buffer is all zeros: eight 64-bit loads per step with an early exit, so a non-zero
/// chunk usually costs a few loads and a zero chunk streams at memory speed.
public enum ZeroCheck {
    @inline(__always)
    public static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var i = 0
        while i + 64 <= count {
            let a = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                | base.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
                | base.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self)
                | base.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self)
            let b = base.loadUnaligned(fromByteOffset: i + 32, as: UInt64.self)
                | base.loadUnaligned(fromByteOffset: i + 40, as: UInt64.self)
                | base.loadUnaligned(fromByteOffset: i + 48, as: UInt64.self)
                | base.loadUnaligned(fromByteOffset: i + 56, as: UInt64.self)
            if (a | b) != 0 { return false }
            i += 64
        }
        while i < count {
            if base.load(fromByteOffset: i, as: UInt8.self) != 0 { return false }
            i += 1
        }
        return true
    }
}
