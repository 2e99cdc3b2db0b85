extension FastCDC {
    /// The seed of the Gear table: the ASCII bytes `"STASISCD"` read as a big-endian integer.
    /// Part of the on-disk format; never change it.
    public static let gearSeed: UInt64 = 0x5354_4153_4953_4344

    /// The 256-entry Gear table: `gearTable[i]` is the `(i + 1)`-th output of splitmix64 seeded
    /// with ``gearSeed`` (`0x5354_4153_4953_4344`), one step per entry, in order.
    ///
    /// **Part of the on-disk format.** Stored blob manifests depend on the boundaries this table
    /// produces, so it must never change between versions. The first four values are:
    ///
    ///     gearTable[0] = 0x07D4_D047_B94F_9702
    ///     gearTable[1] = 0x82B9_7C11_E1C4_AFFF
    ///     gearTable[2] = 0x7EB6_955B_337E_E96B
    ///     gearTable[3] = 0xBCEA_BE19_32EF_08B6
    ///
    /// and the last is `gearTable[255] = 0xA5B0_AC03_164F_927A`. The splitmix64 step is given in
    /// `Formats/fastcdc.md`. Computed once, on first use.
    public static let gearTable: [UInt64] = {
        var generator = SplitMix64(seed: gearSeed)
        return (0..<256).map { _ in generator.next() }
    }()
}
