// Seeded pseudo-random generators for the synthetic images.
//
// Everything the generator draws comes from `Xoshiro256StarStar`, seeded through
// `SplitMix64` from a tuple of integers (seed, stream purpose, chunk index...), so
// independent streams never overlap in practice and output is fully deterministic.

/// SplitMix64 (Steele, Lea, Flood 2014): used to expand seeds.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    @inlinable
    public init(seed: UInt64) { state = seed }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman, Vigna 2018): the workhorse generator.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64
    @usableFromInline var s1: UInt64
    @usableFromInline var s2: UInt64
    @usableFromInline var s3: UInt64

    /// Seeds from a list of integers (order matters): each is mixed into a
    /// SplitMix64 state, whose output then fills the 256-bit state.
    public init(_ keys: UInt64...) {
        self.init(keys: keys)
    }

    public init(keys: [UInt64]) {
        var h: UInt64 = 0x5354_4153_4953_2D31 // "STASIS-1"
        for k in keys {
            var m = SplitMix64(seed: h ^ k)
            h = m.next() &+ 0x9E37_79B9_7F4A_7C15
        }
        var sm = SplitMix64(seed: h)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    /// Uniform double in [0, 1) with 53 random bits.
    @inlinable @inline(__always)
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform integer in 0..<n (n > 0), multiply-shift (Lemire) without rejection;
    /// the bias is below n / 2^64, irrelevant here.
    @inlinable @inline(__always)
    public mutating func below(_ n: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(n)).high)
    }

    /// Fills `buffer` with random bytes, 8 at a time.
    @inlinable
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        let words = buffer.count / 8
        var i = 0
        while i < words {
            base.storeBytes(of: next().littleEndian, toByteOffset: i &* 8, as: UInt64.self)
            i &+= 1
        }
        var tail = next()
        var j = words * 8
        while j < buffer.count {
            base.storeBytes(of: UInt8(truncatingIfNeeded: tail), toByteOffset: j, as: UInt8.self)
            tail >>= 8
            j += 1
        }
    }
}

@inlinable @inline(__always)
func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 &- k))
}
