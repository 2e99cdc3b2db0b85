/// The splitmix64 generator (Steele, Lea & Flood 2014), used to derive the FastCDC Gear table.
///
/// Part of the on-disk format through ``FastCDC/gearTable``: the constants and the order of the
/// steps below must never change. One step is:
///
///     state = state &+ 0x9E37_79B9_7F4A_7C15
///     z = state
///     z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
///     z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
///     return z ^ (z >> 31)
struct SplitMix64: Sendable {
    private(set) var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z &>> 31)
    }
}
