import PropertyBased
import StasisChunking
import Testing

/// `FastCDC.Stream`. Invariants checked:
///
/// 1. **Stream == one-shot** — for any input and any split into blocks (single bytes, random
///    sizes, one block larger than the internal buffer), the emitted ranges are exactly
///    `FastCDC.chunks(of:)` of the whole input, in order, and the bytes handed to the callback
///    are the input's bytes at those ranges.
/// 2. **Bounded buffering** — between calls fewer than `maxSize` bytes are pending, and
///    `offset + bufferedCount` is the number of bytes appended.
/// 3. **Reuse** — after `finish()` the stream starts again at offset 0 and chunks a new input
///    exactly like a fresh stream.
/// 4. **Errors** — an error thrown by the callback is rethrown with its own type.
@Suite struct FastCDCStreamTests {
    /// Feeds `input` in blocks whose sizes cycle through `blockSizes`; returns the chunks
    /// (converted to `Int` offsets) and checks the bytes passed with each chunk.
    static func streamChunks(_ input: [UInt8], blockSizes: [Int], _ cdc: FastCDC) -> [Range<Int>] {
        var stream = FastCDC.Stream(cdc)
        var result: [Range<Int>] = []
        let collect = { (range: Range<Int64>, bytes: UnsafeRawBufferPointer) in
            let ints = Int(range.lowerBound)..<Int(range.upperBound)
            #expect(bytes.count == ints.count)
            #expect(bytes.elementsEqual(input[ints]))
            result.append(ints)
        }
        input.withUnsafeBytes { all in
            var position = 0
            var turn = 0
            while position < all.count {
                let end = min(position + blockSizes[turn % blockSizes.count], all.count)
                stream.append(UnsafeRawBufferPointer(rebasing: all[position..<end]), onChunk: collect)
                position = end
                turn += 1
                #expect(stream.bufferedCount < cdc.maxSize)
                #expect(stream.offset + Int64(stream.bufferedCount) == Int64(position))
            }
        }
        stream.finish(onChunk: collect)
        #expect(stream.offset == 0 && stream.bufferedCount == 0)
        return result
    }

    @Test func streamMatchesOneShotForRandomBlockSplits() async {
        await propertyCheck(
            count: 60,
            input: FastCDCTests.parameters, FastCDCTests.shapes, Gen.uint64(), Gen.int(in: 0...80_000),
            Gen.int(in: 1...6000).array(of: 1...8)
        ) { cdc, shape, seed, count, blockSizes in
            let input = TestData.bytes(shape, seed: seed, count: count)
            #expect(Self.streamChunks(input, blockSizes: blockSizes, cdc) == cdc.chunks(of: input))
        }
    }

    @Test func streamMatchesOneShotForExtremeSplits() throws {
        let small = try FastCDC(minSize: 64, averageSize: 256, maxSize: 1024)
        for shape in TestData.Shape.allCases {
            let input = TestData.bytes(shape, seed: 99, count: 20_000)
            let expected = small.chunks(of: input)
            #expect(Self.streamChunks(input, blockSizes: [1], small) == expected)
            #expect(Self.streamChunks(input, blockSizes: [input.count], small) == expected)  // > 2 × maxSize
            #expect(Self.streamChunks(input, blockSizes: [1023, 1, 1024, 1025, 2048, 64, 65], small) == expected)
        }
        let big = TestData.bytes(.mostlyZero, seed: 5, count: 700_000)
        #expect(Self.streamChunks(big, blockSizes: [100_000, 4096, 1, 250_000], .standard)
            == FastCDC.standard.chunks(of: big))
    }

    @Test func emptyStreamEmitsNothing() {
        var stream = FastCDC.Stream(.standard)
        #expect(stream.append([UInt8]()) == [])
        #expect(stream.finish() == [])
    }

    @Test func collectionConvenienceAndReuse() {
        let input = TestData.randomBytes(seed: 3, count: 100_000)
        let expected = FastCDC.standard.chunks(of: input).map { Int64($0.lowerBound)..<Int64($0.upperBound) }
        var stream = FastCDC.Stream(.standard)
        for _ in 0..<2 {  // the second round checks that finish() reset the stream
            var ranges = stream.append(input[0..<30_000])
            ranges += stream.append(input[30_000...].lazy.map { $0 })  // non-contiguous path
            ranges += stream.finish()
            #expect(ranges == expected)
        }
    }

    struct Stop: Error, Equatable {}

    @Test func callbackErrorsAreRethrown() {
        let input = TestData.randomBytes(seed: 11, count: 200_000)
        func feed() throws(Stop) {
            var stream = FastCDC.Stream(.standard)
            try input.withUnsafeBufferPointer { (bytes) throws(Stop) in
                try stream.append(UnsafeRawBufferPointer(bytes)) { (_, _) throws(Stop) in throw Stop() }
            }
        }
        #expect(throws: Stop()) { try feed() }
    }
}
