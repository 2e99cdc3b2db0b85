import PropertyBased
import StasisChunking
import Testing

/// FastCDC one-shot chunking. Invariants checked:
///
/// 1. **Format freeze** — the Gear table (seed, first four and last values), the masks and the
///    boundaries of fixed pseudo-random inputs are asserted as literal numbers (the known-answer
///    vectors of `Formats/fastcdc.md`), so any change to the algorithm fails here.
/// 2. **Exact cover** — the chunks are contiguous, start at 0 and end at the input's length.
/// 3. **Size bounds** — every chunk but the last is `minSize + 1 ... maxSize` bytes; the last is
///    `1 ... maxSize`; long zero runs cut at exactly `maxSize`.
/// 4. **Determinism** — the same input gives the same chunks, from the same or a new chunker
///    and from any collection type holding the bytes.
/// 5. **`nextBoundary` contract** — `buffer.count` when `<= minSize`; otherwise the first chunk,
///    and for any prefix of length `L`, `min(L, firstChunk)` (prefix stability).
/// 6. **Shift resistance** — after inserting or deleting a few bytes, at least 80% of the
///    edited input's chunks (by content hash) are chunks of the original.
/// 7. **Validation** — bad parameters throw a `ChunkingError` naming the parameter.
@Suite struct FastCDCTests {
    /// The known-answer input: `TestData.randomBytes(seed: 0x0123_4567_89AB_CDEF, count:)`.
    static let vectorSeed: UInt64 = 0x0123_4567_89AB_CDEF

    /// Random valid parameters: averageSize 2^7...2^11, minSize 1/8...7/8 of it (at least 64),
    /// maxSize 2...8 times it.
    static let parameters = zip(Gen.int(in: 7...11), Gen.int(in: 1...7), Gen.int(in: 2...8)).map { drawn in
        let averageSize = 1 << drawn.0
        let minSize = max(FastCDC.minimumMinSize, averageSize * drawn.1 / 8)
        return try! FastCDC(minSize: minSize, averageSize: averageSize, maxSize: averageSize * drawn.2)
    }
    static let shapes = Gen.int(in: 0...2).map { TestData.Shape(rawValue: $0)! }

    static func ends(_ chunks: [Range<Int>]) -> [Int] { chunks.map(\.upperBound) }

    static func checkCoverAndBounds(_ chunks: [Range<Int>], count: Int, _ cdc: FastCDC) {
        #expect(chunks.first?.lowerBound ?? 0 == 0)
        #expect(chunks.last?.upperBound ?? 0 == count)
        for (previous, next) in zip(chunks, chunks.dropFirst()) {
            #expect(previous.upperBound == next.lowerBound)
        }
        for (index, chunk) in chunks.enumerated() {
            #expect(chunk.count <= cdc.maxSize)
            if index < chunks.count - 1 {
                #expect(chunk.count > cdc.minSize)
            } else {
                #expect(chunk.count >= 1)
            }
        }
    }

    // MARK: 1. Format freeze

    @Test func gearTableIsFrozen() {
        #expect(FastCDC.gearSeed == 0x5354_4153_4953_4344)
        #expect(FastCDC.gearTable.count == 256)
        #expect(FastCDC.gearTable[0] == 0x07D4_D047_B94F_9702)
        #expect(FastCDC.gearTable[1] == 0x82B9_7C11_E1C4_AFFF)
        #expect(FastCDC.gearTable[2] == 0x7EB6_955B_337E_E96B)
        #expect(FastCDC.gearTable[3] == 0xBCEA_BE19_32EF_08B6)
        #expect(FastCDC.gearTable[255] == 0xA5B0_AC03_164F_927A)
        #expect(Set(FastCDC.gearTable).count == 256)
        // The table is splitmix64 from the seed, step by step.
        var state = FastCDC.gearSeed
        #expect(FastCDC.gearTable == (0..<256).map { _ in TestData.splitMix64(&state) })
    }

    @Test func masksAreFrozen() throws {
        let standard = FastCDC.standard
        #expect(standard.minSize == 2048 && standard.averageSize == 8192 && standard.maxSize == 65536)
        #expect(standard.smallMask == 0xFFFE_0000_0000_0000)  // 15 bits
        #expect(standard.largeMask == 0xFFE0_0000_0000_0000)  // 11 bits
        let small = try FastCDC(minSize: 64, averageSize: 256, maxSize: 1024)
        #expect(small.smallMask == 0xFFC0_0000_0000_0000)  // 10 bits
        #expect(small.largeMask == 0xFC00_0000_0000_0000)  // 6 bits
    }

    @Test func knownAnswerStandardParameters() {
        let input = TestData.randomBytes(seed: Self.vectorSeed, count: 262_144)
        #expect(Array(input.prefix(8)) == [0x9D, 0xAA, 0x8F, 0xA4, 0x07, 0x38, 0x7A, 0x15])
        let expected = [
            8906, 21178, 29374, 39053, 50590, 60658, 69138, 82853, 96077, 101986,
            106180, 116828, 128436, 140295, 153278, 165311, 173738, 182970, 192426, 200685,
            209578, 221321, 229990, 238605, 249762, 253925, 262144,
        ]
        #expect(Self.ends(FastCDC.standard.chunks(of: input)) == expected)
    }

    @Test func knownAnswerSmallParameters() throws {
        let cdc = try FastCDC(minSize: 64, averageSize: 256, maxSize: 1024)
        let input = TestData.randomBytes(seed: Self.vectorSeed, count: 8192)
        let expected = [
            174, 440, 713, 976, 1239, 1534, 1825, 2221, 2594, 2853,
            3222, 3547, 3872, 4197, 4474, 4805, 5163, 5429, 5715, 6007,
            6374, 6639, 6934, 7210, 7598, 8123, 8192,
        ]
        #expect(Self.ends(cdc.chunks(of: input)) == expected)
    }

    /// Many chunks (so cuts land on the normalization point too): the count, the first and
    /// last ends, and FNV-1a-64 of all ends, each written as 8 little-endian bytes.
    @Test func knownAnswerManySmallChunks() throws {
        let cdc = try FastCDC(minSize: 64, averageSize: 256, maxSize: 1024)
        let input = TestData.randomBytes(seed: Self.vectorSeed, count: 1 << 20)
        let ends = Self.ends(cdc.chunks(of: input))
        #expect(ends.count == 3566)
        #expect(Array(ends.prefix(5)) == [174, 440, 713, 976, 1239])
        #expect(Array(ends.suffix(3)) == [1_048_207, 1_048_491, 1_048_576])
        let encoded = ends.flatMap { end in (0..<8).map { UInt8(truncatingIfNeeded: UInt64(end) >> (8 * $0)) } }
        #expect(TestData.fnv1a(encoded[...]) == 0x574D_6CAA_A4C0_72BF)
    }

    @Test func knownAnswerZeros() {
        let input = [UInt8](repeating: 0, count: 200_000)
        #expect(Self.ends(FastCDC.standard.chunks(of: input)) == [65536, 131_072, 196_608, 200_000])
    }

    // MARK: 2–3. Exact cover and size bounds

    @Test func emptyAndTinyInputs() {
        let cdc = FastCDC.standard
        #expect(cdc.chunks(of: [UInt8]()) == [])
        #expect(cdc.chunks(of: [UInt8](repeating: 7, count: 1)) == [0..<1])
        #expect(cdc.chunks(of: [UInt8](repeating: 7, count: 2048)) == [0..<2048])
    }

    @Test func coverAndBoundsForRandomInputs() async {
        await propertyCheck(
            count: 60, input: Self.parameters, Self.shapes, Gen.uint64(), Gen.int(in: 0...60_000)
        ) { cdc, shape, seed, count in
            let input = TestData.bytes(shape, seed: seed, count: count)
            Self.checkCoverAndBounds(cdc.chunks(of: input), count: count, cdc)
        }
    }

    @Test func coverAndBoundsForArbitraryBytes() async {
        await propertyCheck(count: 100, input: Self.parameters, Gen.uint8(in: 0...255).array(of: 0...3000)) {
            cdc, input in
            Self.checkCoverAndBounds(cdc.chunks(of: input), count: input.count, cdc)
        }
    }

    // MARK: 4. Determinism

    @Test func deterministicAcrossCallsInstancesAndCollections() async throws {
        let input = TestData.bytes(.random, seed: 42, count: 300_000)
        let first = FastCDC.standard.chunks(of: input)
        #expect(FastCDC.standard.chunks(of: input) == first)
        #expect(try FastCDC(minSize: 2048, averageSize: 8192, maxSize: 65536).chunks(of: input) == first)
        // Non-contiguous collection: goes through the copying path.
        #expect(FastCDC.standard.chunks(of: input.lazy.map { $0 }) == first)
        // A slice: ranges are offsets from its start, not indices of the base array.
        let padded = [UInt8](repeating: 0xAB, count: 5) + input
        #expect(FastCDC.standard.chunks(of: padded[5...]) == first)
        let viaBuffer = input.withUnsafeBytes { FastCDC.standard.chunks(of: $0) }
        #expect(viaBuffer == first)
    }

    // MARK: 5. nextBoundary

    @Test func nextBoundaryShortBuffers() {
        let cdc = FastCDC.standard
        let input = TestData.randomBytes(seed: 7, count: 2048)
        for count in [0, 1, 63, 1000, 2047, 2048] {
            let result = input.withUnsafeBytes { cdc.nextBoundary(in: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            #expect(result == count)
        }
        #expect(cdc.nextBoundary(in: UnsafeRawBufferPointer(start: nil, count: 0)) == 0)
    }

    @Test func nextBoundaryIsPrefixStable() async {
        await propertyCheck(
            count: 60, input: Self.parameters, Self.shapes, Gen.uint64(), Gen.int(in: 0...100_000)
        ) { cdc, shape, seed, prefixSeed in
            let input = TestData.bytes(shape, seed: seed, count: cdc.maxSize + 100)
            input.withUnsafeBytes { buffer in
                let first = cdc.nextBoundary(in: buffer)
                #expect(first > cdc.minSize && first <= cdc.maxSize)
                #expect(first == cdc.chunks(of: buffer).first?.count)
                let length = prefixSeed % (cdc.maxSize + 1)
                let prefix = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
                #expect(cdc.nextBoundary(in: prefix) == min(length, first))
            }
        }
    }

    // MARK: 6. Shift resistance

    /// Fraction of `edited`'s chunks whose content also is a chunk of `original`.
    static func sharedFraction(_ original: [UInt8], _ edited: [UInt8], _ cdc: FastCDC) -> Double {
        let known = Set(cdc.chunks(of: original).map { TestData.fnv1a(original[$0]) })
        let editedChunks = cdc.chunks(of: edited)
        let shared = editedChunks.filter { known.contains(TestData.fnv1a(edited[$0])) }.count
        return Double(shared) / Double(editedChunks.count)
    }

    @Test func insertionNearStartKeepsMostChunks() {
        let original = TestData.randomBytes(seed: 0x5EED, count: 1 << 20)
        var edited = original
        edited.insert(contentsOf: [0x01, 0x02, 0x03], at: 100)
        let fraction = Self.sharedFraction(original, edited, .standard)
        #expect(fraction >= 0.8, "only \(fraction) of the chunks survived a 3-byte insertion")

        var deleted = original
        deleted.removeSubrange(5000..<5007)
        #expect(Self.sharedFraction(original, deleted, .standard) >= 0.8)
    }

    @Test func randomSmallEditsKeepMostChunks() async throws {
        let cdc = try FastCDC(minSize: 64, averageSize: 256, maxSize: 1024)
        await propertyCheck(
            count: 40, input: Gen.uint64(), Gen.int(in: 0...65_535), Gen.uint8(in: 0...255).array(of: 1...16)
        ) { seed, position, inserted in
            let original = TestData.randomBytes(seed: seed, count: 65_536)
            var edited = original
            edited.insert(contentsOf: inserted, at: position)
            #expect(Self.sharedFraction(original, edited, cdc) >= 0.8)
        }
    }

    // MARK: 7. Validation

    @Test(arguments: [
        (64, 256, 1024, nil),
        (63, 256, 1024, ChunkingError.minSizeTooSmall(minSize: 63)),
        (-1, 256, 1024, .minSizeTooSmall(minSize: -1)),
        (2048, 8192, 16 << 20 + 1, .maxSizeTooLarge(maxSize: 16 << 20 + 1)),
        (2048, 8000, 65536, .averageSizeNotPowerOfTwo(averageSize: 8000)),
        (2048, 0, 65536, .averageSizeNotPowerOfTwo(averageSize: 0)),
        (8192, 8192, 65536, .minSizeNotBelowAverageSize(minSize: 8192, averageSize: 8192)),
        (2048, 65536, 65536, .averageSizeNotBelowMaxSize(averageSize: 65536, maxSize: 65536)),
    ] as [(Int, Int, Int, ChunkingError?)])
    func parameterValidation(minSize: Int, averageSize: Int, maxSize: Int, expected: ChunkingError?) {
        if let expected {
            #expect(throws: expected) {
                try FastCDC(minSize: minSize, averageSize: averageSize, maxSize: maxSize)
            }
        } else {
            #expect(throws: Never.self) {
                try FastCDC(minSize: minSize, averageSize: averageSize, maxSize: maxSize)
            }
        }
    }

    @Test func errorsNameTheParameter() {
        let cases: [(ChunkingError, String)] = [
            (.minSizeTooSmall(minSize: 10), "minSize"),
            (.maxSizeTooLarge(maxSize: 1 << 30), "maxSize"),
            (.averageSizeNotPowerOfTwo(averageSize: 1000), "averageSize"),
            (.minSizeNotBelowAverageSize(minSize: 9000, averageSize: 8192), "minSize"),
            (.averageSizeNotBelowMaxSize(averageSize: 8192, maxSize: 8192), "averageSize"),
            (.chunkSizeNotPowerOfTwo(chunkSize: 5000), "chunkSize"),
            (.chunkSizeOutOfRange(chunkSize: 1024), "chunkSize"),
        ]
        for (error, name) in cases {
            #expect(error.parameter == name)
            #expect(error.description.contains(name), "\(error.description)")
            #expect(error.description.contains("use") || error.description.contains("raise")
                || error.description.contains("lower"), "no advice in: \(error.description)")
        }
        do {
            _ = try FastCDC(minSize: 10)
            Issue.record("minSize 10 was accepted")
        } catch {
            #expect(error.description.contains("minSize 10"))
        }
    }
}
