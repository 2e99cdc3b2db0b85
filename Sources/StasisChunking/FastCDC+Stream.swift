extension FastCDC {
    /// Incremental FastCDC over a byte stream fed in blocks of any size.
    ///
    /// Produces exactly the chunks that `FastCDC.chunks(of:)` produces
    /// for the concatenation of all blocks, whatever the block sizes: a chunk is emitted as soon
    /// as its end is certain (a cut point was hashed, or `maxSize` bytes are buffered), and the
    /// tail is emitted by ``finish(onChunk:)``.
    ///
    /// Every byte is hashed once: the Gear hash of the pending chunk is kept between blocks.
    /// Bytes are copied into an internal buffer of `2 × maxSize` bytes (allocated on first use);
    /// there is no other allocation per block or per chunk.
    ///
    /// ```swift
    /// var stream = FastCDC.Stream(.standard)
    /// for block in blocks {
    ///     try stream.append(block) { range, bytes in try store(range, bytes) }
    /// }
    /// try stream.finish { range, bytes in try store(range, bytes) }
    /// ```
    public struct Stream: Sendable {
        /// The parameters in use.
        public let chunker: FastCDC
        /// Holds the pending chunk at `start..<end`; empty until the first append.
        private var buffer: [UInt8] = []
        private var start = 0
        private var end = 0
        /// Chunk-local position of the next byte of the pending chunk to hash (>= minSize).
        private var scanned: Int
        /// Gear hash of the pending chunk's positions `minSize..<scanned`.
        private var hash: UInt64 = 0
        /// Stream offset of the first byte of the pending chunk (= bytes emitted so far).
        public private(set) var offset: Int64 = 0

        public init(_ chunker: FastCDC) {
            self.chunker = chunker
            self.scanned = chunker.minSize
        }

        /// Bytes appended but not yet emitted as part of a chunk (always less than `maxSize`
        /// between calls).
        public var bufferedCount: Int { end - start }

        /// Feeds the next `block` of the stream and calls `body` for every chunk completed by
        /// it, in order, with the chunk's range of stream offsets and its bytes. The bytes are
        /// valid only during the call.
        ///
        /// If `body` throws, the error is rethrown and the stream must not be used again.
        public mutating func append<E: Error>(
            _ block: UnsafeRawBufferPointer,
            onChunk body: (_ range: Range<Int64>, _ bytes: UnsafeRawBufferPointer) throws(E) -> Void
        ) throws(E) {
            guard let source = block.baseAddress else { return }
            var consumed = 0
            while consumed < block.count {
                if buffer.isEmpty { buffer = [UInt8](repeating: 0, count: 2 * chunker.maxSize) }
                if end == buffer.count { compact() }
                let take = min(block.count - consumed, buffer.count - end)
                let at = end
                buffer.withUnsafeMutableBytes { destination in
                    (destination.baseAddress.unsafelyUnwrapped + at)
                        .copyMemory(from: source + consumed, byteCount: take)
                }
                end += take
                consumed += take
                try emitChunks(final: false, body)
            }
        }

        /// Emits the remaining chunks (the tail of the stream, possibly several chunks, none
        /// if nothing is pending) and resets the stream to its initial state, offset 0, ready
        /// for a new input.
        ///
        /// If `body` throws, the error is rethrown and the stream must not be used again.
        public mutating func finish<E: Error>(
            onChunk body: (_ range: Range<Int64>, _ bytes: UnsafeRawBufferPointer) throws(E) -> Void
        ) throws(E) {
            try emitChunks(final: true, body)
            start = 0
            end = 0
            scanned = chunker.minSize
            hash = 0
            offset = 0
        }

        /// Feeds `bytes` and returns the ranges (stream offsets) of the chunks it completed.
        public mutating func append(_ bytes: some Collection<UInt8>) -> [Range<Int64>] {
            var completed: [Range<Int64>] = []
            let done: Void? = bytes.withContiguousStorageIfAvailable { contiguous in
                append(UnsafeRawBufferPointer(contiguous)) { range, _ in completed.append(range) }
            }
            if done == nil {
                Array(bytes).withUnsafeBytes { copy in
                    append(copy) { range, _ in completed.append(range) }
                }
            }
            return completed
        }

        /// Ends the stream and returns the ranges (stream offsets) of the remaining chunks.
        public mutating func finish() -> [Range<Int64>] {
            var completed: [Range<Int64>] = []
            finish { range, _ in completed.append(range) }
            return completed
        }

        /// Moves the pending chunk to the front of the buffer. Only called when the buffer is
        /// full, so the pending part (< maxSize bytes) is less than half of it and the move is
        /// paid for by the at least `maxSize` bytes that can be copied in afterwards.
        private mutating func compact() {
            let (from, count) = (start, end - start)
            if from > 0, count > 0 {
                buffer.withUnsafeMutableBufferPointer { bytes in
                    let base = bytes.baseAddress.unsafelyUnwrapped
                    base.update(from: base + from, count: count)
                }
            }
            start = 0
            end = count
        }

        /// Cuts and emits every chunk of the buffered bytes whose end is certain; with `final`,
        /// all of them.
        private mutating func emitChunks<E: Error>(
            final: Bool,
            _ body: (_ range: Range<Int64>, _ bytes: UnsafeRawBufferPointer) throws(E) -> Void
        ) throws(E) {
            let cdc = chunker
            let end = self.end
            var start = self.start
            var scanned = self.scanned
            var hash = self.hash
            var offset = self.offset
            defer {
                self.start = start
                self.scanned = scanned
                self.hash = hash
                self.offset = offset
            }
            try buffer.withUnsafeBufferPointer { (bytes) throws(E) in
                guard let base = bytes.baseAddress else { return }
                while true {
                    let available = end - start
                    let length: Int
                    if available <= cdc.minSize {
                        // Too short to hold a cut point: only the end of the stream ends it.
                        guard final, available > 0 else { return }
                        length = available
                    } else {
                        let limit = min(available, cdc.maxSize)
                        if let cut = cdc.findCut(base + start, from: scanned, to: limit, hash: &hash) {
                            length = cut
                        } else if limit == cdc.maxSize || final {
                            length = limit
                        } else {
                            scanned = limit  // resume here when more bytes arrive
                            return
                        }
                    }
                    let range = offset..<offset + Int64(length)
                    let chunk = UnsafeRawBufferPointer(start: base + start, count: length)
                    start += length
                    offset += Int64(length)
                    scanned = cdc.minSize
                    hash = 0
                    try body(range, chunk)
                }
            }
        }
    }
}
