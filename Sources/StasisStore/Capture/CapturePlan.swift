/// Cuts the byte ranges to capture into blocks of whole chunks for the workers.
///
/// A block is a window of consecutive chunks read into one buffer. Within it, `spans` are the
/// chunks to (re)hash — only chunks that overlap a range — and `reads` the byte ranges read from the
/// source file: the source's allocated ranges (a hole is never read) or, for an incremental
/// capture, the diff file's allocated ranges. A chunk in a span that the reads do not cover whole
/// is `partial`: its other bytes come from the parent image (or are zero).
struct CaptureBlock: Sendable {
    var window: Range<Int>
    var spans: [Range<Int>]
    var reads: [Range<Int64>]
    var partial: [Int]
    var readBytes: Int64 { reads.reduce(0) { $0 + Int64($1.count) } }
}

enum CapturePlan {
    /// Chunks per block: 2 MiB of buffer, whatever the chunk size.
    static func blockChunks(chunkSize: Int) -> Int { max(1, (2 << 20) / chunkSize) }

    /// `ranges` must be sorted and disjoint, within `0..<imageSize`.
    static func blocks(ranges: [Range<Int64>], imageSize: Int64, chunkSize: Int) -> [CaptureBlock] {
        let cs = Int64(chunkSize)
        let perBlock = blockChunks(chunkSize: chunkSize)
        var blocks: [CaptureBlock] = []
        func block(for chunk: Int) -> Int {
            let w = (chunk / perBlock) * perBlock
            if let last = blocks.last, last.window.lowerBound == w { return blocks.count - 1 }
            let upper = min(w + perBlock, ImageManifest.chunkCount(imageSize: imageSize, chunkSize: chunkSize))
            blocks.append(CaptureBlock(window: w..<upper, spans: [], reads: [], partial: []))
            return blocks.count - 1
        }
        for range in ranges where !range.isEmpty {
            let lo = max(0, range.lowerBound), hi = min(imageSize, range.upperBound)
            guard lo < hi else { continue }
            var chunk = Int(lo / cs)
            let lastChunk = Int((hi - 1) / cs)
            while chunk <= lastChunk {
                let b = block(for: chunk)
                let spanEnd = min(lastChunk + 1, blocks[b].window.upperBound)
                // Extend the previous span when this range continues in the same or next chunk.
                if let last = blocks[b].spans.last, last.upperBound >= chunk {
                    blocks[b].spans[blocks[b].spans.count - 1] = last.lowerBound..<max(last.upperBound, spanEnd)
                } else {
                    blocks[b].spans.append(chunk..<spanEnd)
                }
                let windowBytes = Int64(blocks[b].window.lowerBound) * cs..<min(imageSize, Int64(blocks[b].window.upperBound) * cs)
                let readLo = max(lo, windowBytes.lowerBound), readHi = min(hi, windowBytes.upperBound)
                if let last = blocks[b].reads.last, last.upperBound == readLo {
                    blocks[b].reads[blocks[b].reads.count - 1] = last.lowerBound..<readHi
                } else {
                    blocks[b].reads.append(readLo..<readHi)
                }
                chunk = spanEnd
            }
        }
        for b in blocks.indices {
            blocks[b].partial = partialChunks(blocks[b], imageSize: imageSize, chunkSize: chunkSize)
        }
        return blocks
    }

    /// Chunks of the spans whose bytes the reads do not cover entirely.
    private static func partialChunks(_ block: CaptureBlock, imageSize: Int64, chunkSize: Int) -> [Int] {
        let cs = Int64(chunkSize)
        var result: [Int] = []
        var r = 0
        for span in block.spans {
            for c in span {
                let start = Int64(c) * cs, end = min(imageSize, start + cs)
                while r < block.reads.count && block.reads[r].upperBound <= start { r += 1 }
                var covered: Int64 = 0
                var k = r
                while k < block.reads.count && block.reads[k].lowerBound < end {
                    covered += min(end, block.reads[k].upperBound) - max(start, block.reads[k].lowerBound)
                    k += 1
                }
                if covered < end - start { result.append(c) }
            }
        }
        return result
    }
}
