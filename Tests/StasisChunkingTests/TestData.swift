/// Deterministic test inputs, generated independently of the module under test (the module's own
/// splitmix64 is internal; this copy is written from the published definition).
enum TestData {
    /// splitmix64: `state += 0x9E3779B97F4A7C15`, then the two xor-shift-multiply rounds and a
    /// final xor-shift. Returns the new state and the output.
    static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` bytes: the splitmix64 outputs for `seed`, each written as 8 little-endian bytes,
    /// concatenated and truncated to `count`. This is the known-answer input rule of
    /// `Formats/fastcdc.md`.
    static func randomBytes(seed: UInt64, count: Int) -> [UInt8] {
        var state = seed
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            var word = splitMix64(&state)
            for _ in 0..<8 {
                bytes.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }

    /// Shapes of input that exercise different paths of the chunker.
    enum Shape: Int, CaseIterable, Sendable {
        /// Uniform random bytes: cuts come from the masks.
        case random
        /// Only the values 0...3: low entropy, still content-defined.
        case fourSymbols
        /// Zeros with a random 64-byte island every 4 KiB, like a sparse memory image: the
        /// zero runs produce `maxSize` cuts.
        case mostlyZero
    }

    static func bytes(_ shape: Shape, seed: UInt64, count: Int) -> [UInt8] {
        var bytes = randomBytes(seed: seed, count: count)
        switch shape {
        case .random:
            break
        case .fourSymbols:
            for i in bytes.indices { bytes[i] &= 3 }
        case .mostlyZero:
            for i in bytes.indices where i % 4096 >= 64 { bytes[i] = 0 }
        }
        return bytes
    }

    /// 64-bit FNV-1a, to compare chunks by content.
    static func fnv1a(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
