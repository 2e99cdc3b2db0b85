import PropertyBased
import StasisChunking
import Testing

/// `FixedChunkGrid`. Invariants checked:
///
/// 1. **Validation** — `chunkSize` must be a power of two from 4 KiB to 2 MiB; otherwise a
///    `ChunkingError` naming `chunkSize`.
/// 2. **Exact cover** — chunks `0..<chunkCount` are aligned, contiguous, `chunkSize` long except
///    a shorter last one, and cover `0..<imageSize` exactly.
/// 3. **Overlap** — `chunks(overlapping:imageSize:)` is exactly the set of chunks sharing a byte
///    with the range clamped to the image (checked against a brute-force scan).
@Suite struct FixedChunkGridTests {
    @Test(arguments: [
        (4096, nil),
        (65536, nil),
        (2 << 20, nil),
        (2048, ChunkingError.chunkSizeOutOfRange(chunkSize: 2048)),
        (4 << 20, .chunkSizeOutOfRange(chunkSize: 4 << 20)),
        (5000, .chunkSizeNotPowerOfTwo(chunkSize: 5000)),
        (0, .chunkSizeNotPowerOfTwo(chunkSize: 0)),
        (-4096, .chunkSizeNotPowerOfTwo(chunkSize: -4096)),
    ] as [(Int, ChunkingError?)])
    func validation(chunkSize: Int, expected: ChunkingError?) throws {
        if let expected {
            #expect(throws: expected) { try FixedChunkGrid(chunkSize: chunkSize) }
            #expect(expected.parameter == "chunkSize")
        } else {
            #expect(try FixedChunkGrid(chunkSize: chunkSize).chunkSize == chunkSize)
        }
    }

    @Test func countsAndRanges() throws {
        let grid = try FixedChunkGrid(chunkSize: 4096)
        #expect(grid.chunkCount(forImageSize: 0) == 0)
        #expect(grid.chunkCount(forImageSize: 1) == 1)
        #expect(grid.chunkCount(forImageSize: 4096) == 1)
        #expect(grid.chunkCount(forImageSize: 4097) == 2)
        #expect(grid.chunkCount(forImageSize: 1 << 40) == 1 << 28)
        #expect(grid.chunkCount(forImageSize: Int64.max) == 1 << 51)
        #expect(grid.range(ofChunk: 0, imageSize: 10_000) == 0..<4096)
        #expect(grid.range(ofChunk: 2, imageSize: 10_000) == 8192..<10_000)
        #expect(grid.range(ofChunk: 1, imageSize: 8192) == 4096..<8192)
        #expect(grid.chunkIndex(containing: 4095) == 0)
        #expect(grid.chunkIndex(containing: 4096) == 1)
        #expect(grid.chunks(overlapping: 0..<1, imageSize: 10_000) == 0..<1)
        #expect(grid.chunks(overlapping: 4095..<4097, imageSize: 10_000) == 0..<2)
        #expect(grid.chunks(overlapping: 4096..<8192, imageSize: 10_000) == 1..<2)
        #expect(grid.chunks(overlapping: 0..<1_000_000, imageSize: 10_000) == 0..<3)
        #expect(grid.chunks(overlapping: 5000..<5000, imageSize: 10_000).isEmpty)
        #expect(grid.chunks(overlapping: 20_000..<30_000, imageSize: 10_000) == 3..<3)
        #expect(grid.chunks(overlapping: 10_000..<10_000, imageSize: 10_000) == 3..<3)
        #expect(grid.chunks(overlapping: 4096..<4096, imageSize: 10_000) == 1..<1)
        #expect(grid.chunks(overlapping: 0..<10, imageSize: 0) == 0..<0)
    }

    static let grids = Gen.int(in: 12...21).map { try! FixedChunkGrid(chunkSize: 1 << $0) }

    @Test func chunksCoverTheImage() async {
        await propertyCheck(
            count: 100, input: Self.grids, Gen.int(in: 0...40), Gen.int(in: -1...1), Gen.int(in: 1...999)
        ) { grid, fullChunks, sign, permille in
            let nudge = sign * max(1, grid.chunkSize * permille / 1000)
            let imageSize = max(0, Int64(fullChunks * grid.chunkSize + nudge))
            let count = grid.chunkCount(forImageSize: imageSize)
            var expectedStart: Int64 = 0
            for index in 0..<count {
                let range = grid.range(ofChunk: index, imageSize: imageSize)
                #expect(range.lowerBound == expectedStart)
                #expect(range.lowerBound % Int64(grid.chunkSize) == 0)
                #expect(range.count == grid.chunkSize || (index == count - 1 && range.count >= 1))
                #expect(grid.chunkIndex(containing: range.lowerBound) == index)
                #expect(grid.chunkIndex(containing: range.upperBound - 1) == index)
                expectedStart = range.upperBound
            }
            #expect(expectedStart == imageSize)
        }
    }

    @Test func overlappingMatchesBruteForce() async {
        await propertyCheck(
            count: 200, input: Self.grids, Gen.int(in: 0...20), Gen.int(in: 0...100), Gen.int(in: 0...100)
        ) { grid, fullChunks, a, b in
            let size = Int64(grid.chunkSize)
            let imageSize = Int64(fullChunks) * size + (a % 3 == 0 ? 0 : Int64(a) * size / 100)
            // Offsets around the image, in eighths of a chunk, so edges are hit often.
            let lower = Int64(min(a, b)) * size / 4
            let upper = Int64(max(a, b)) * size / 4 + Int64(b % 2)
            let result = grid.chunks(overlapping: lower..<upper, imageSize: imageSize)
            let clamped = min(lower, imageSize)..<min(upper, imageSize)
            let expected = (0..<grid.chunkCount(forImageSize: imageSize)).filter {
                grid.range(ofChunk: $0, imageSize: imageSize).overlaps(clamped)
            }
            #expect(Array(result) == expected, "range \(lower)..<\(upper), image \(imageSize)")
            #expect(result.lowerBound >= 0 && result.upperBound <= grid.chunkCount(forImageSize: imageSize))
        }
    }
}
