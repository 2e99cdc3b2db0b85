import Dispatch
import Foundation
import Synchronization
import StasisIO

/// The parallel part of a capture: workers take blocks, read them, hash every chunk, look each up
/// in the chunk index, gather the chunks nobody has stored yet into frames, compress and seal
/// each frame, and hand the frames to the one pack writer. Memory is bounded by workers × (block
/// buffer + one block's frames), whatever the image.
final class CapturePipeline: @unchecked Sendable {
    // Inputs (immutable while running).
    private let source: FileDescriptor
    private let imageSize: Int64
    private let chunkSize: Int
    private let index: ChunkIndex
    private let parent: (manifest: ImageManifest, id: String)?
    private let packFiles: PackFiles
    private let cipher: StoreCipher?
    private let compression: FrameCompression
    private let blocks: [CaptureBlock]
    private let progress: any ProgressReporter

    // Outputs. Workers write disjoint manifest slots; everything else is behind a lock or atomic.
    let slots: UnsafeMutableBufferPointer<ChunkID?>
    private let claimed = Mutex<Set<ChunkID>>([])
    private let writer: PackWriter
    private let writerLock = NSLock()   // guards `writer`
    private let failure = Mutex<StoreError?>(nil)
    private let nextBlock = Atomic<Int>(0)
    let newChunks = Atomic<Int>(0)
    let newBytes = Atomic<Int64>(0)
    let storedBytes = Atomic<Int64>(0)
    let readBytes = Atomic<Int64>(0)

    init(source: FileDescriptor, imageSize: Int64, chunkSize: Int, index: ChunkIndex,
         parent: (manifest: ImageManifest, id: String)?, packFiles: PackFiles, cipher: StoreCipher?, compression: FrameCompression,
         blocks: [CaptureBlock], writer: PackWriter, progress: any ProgressReporter) {
        self.source = source
        self.imageSize = imageSize
        self.chunkSize = chunkSize
        self.index = index
        self.parent = parent
        self.packFiles = packFiles
        self.cipher = cipher
        self.compression = compression
        self.blocks = blocks
        self.progress = progress
        self.writer = writer
        let count = ImageManifest.chunkCount(imageSize: imageSize, chunkSize: chunkSize)
        slots = .allocate(capacity: count)
        if let parent {
            _ = slots.initialize(from: parent.manifest.chunks)
        } else {
            slots.initialize(repeating: nil)
        }
    }

    deinit { slots.deallocate() }

    /// Runs all blocks on `workers` threads; throws the first failure.
    func run(workers: Int) throws(StoreError) {
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, blocks.count))) { _ in
            self.work()
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Runs `body` on the pack writer (after `run`, to seal or abandon).
    func withWriter<T>(_ body: (PackWriter) throws(StoreError) -> T) throws(StoreError) -> T {
        writerLock.lock()
        defer { writerLock.unlock() }
        return try body(writer)
    }

    private func work() {
        let perBlock = CapturePlan.blockChunks(chunkSize: chunkSize)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: perBlock * chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        let frames = FrameBuilder(cipher: cipher, compression: compression)
        // Partial chunks of an incremental capture come from the parent image's packs.
        let parentReader = parent == nil ? nil : ChunkReader(index: index, packs: packFiles, cipher: cipher)
        var candidates: [(chunk: Int, id: ChunkID)] = []
        candidates.reserveCapacity(perBlock)

        while failure.withLock({ $0 == nil }) {
            let b = nextBlock.wrappingAdd(1, ordering: .relaxed).oldValue
            guard b < blocks.count else { return }
            do throws(StoreError) {
                try process(blocks[b], buffer: buffer, frames: frames, parentReader: parentReader, candidates: &candidates)
            } catch {
                failure.withLock { if $0 == nil { $0 = error } }
                return
            }
        }
    }

    private func process(_ block: CaptureBlock, buffer: UnsafeMutableRawBufferPointer, frames: FrameBuilder,
                         parentReader: ChunkReader?, candidates: inout [(chunk: Int, id: ChunkID)]) throws(StoreError) {
        let cs = Int64(chunkSize)
        let base = Int64(block.window.lowerBound) * cs
        @inline(__always) func chunkBytes(_ c: Int) -> UnsafeMutableRawBufferPointer {
            let start = Int(Int64(c) * cs - base)
            let length = Int(min(cs, imageSize - Int64(c) * cs))
            return UnsafeMutableRawBufferPointer(rebasing: buffer[start..<start + length])
        }

        // 1. Bytes of partial chunks not covered by reads: the parent's, or zeros.
        for c in block.partial {
            let dest = chunkBytes(c)
            if let parent, let parentReader, let id = parent.manifest.chunks[c] {
                try parentReader.read(id, into: dest, image: parent.id)
            } else {
                dest.initializeMemory(as: UInt8.self, repeating: 0)
            }
        }
        // 2. The changed / allocated bytes from the source.
        for r in block.reads {
            let start = Int(r.lowerBound - base)
            let dest = UnsafeMutableRawBufferPointer(rebasing: buffer[start..<start + r.count])
            let n = try StoreError.wrap { () throws(IOError) in try source.read(into: dest, at: r.lowerBound) }
            if n < r.count {
                // The file shrank while we read it: what is past its end reads as zeros.
                UnsafeMutableRawBufferPointer(rebasing: dest[n...]).initializeMemory(as: UInt8.self, repeating: 0)
            }
        }
        readBytes.add(block.readBytes, ordering: .relaxed)

        // 3. Name every chunk; collect the ones the store does not have.
        candidates.removeAll(keepingCapacity: true)
        for span in block.spans {
            for c in span {
                let bytes = UnsafeRawBufferPointer(chunkBytes(c))
                if ZeroCheck.isZero(bytes) { slots[c] = nil; continue }
                let id = ChunkHasher.id(of: bytes)
                slots[c] = id
                if index.location(of: id) == nil { candidates.append((c, id)) }
            }
        }
        if candidates.isEmpty { progress.advance(by: block.readBytes); return }

        // 4. Claim them (a chunk twice in this image is stored once), then frame, compress and
        //    seal them outside the lock. A block's frames end with the block.
        let mine: [(chunk: Int, id: ChunkID)] = claimed.withLock { set in
            candidates.filter { set.insert($0.id).inserted }
        }
        var sealed: [SealedFrame] = []
        var rawTotal: Int64 = 0, storedTotal: Int64 = 0
        for (c, id) in mine {
            let raw = UnsafeRawBufferPointer(chunkBytes(c))
            if frames.wouldOverflow(adding: raw.count) { sealed.append(frames.seal()) }
            frames.add(id, raw)
            rawTotal += Int64(raw.count)
        }
        if !frames.isEmpty { sealed.append(frames.seal()) }
        for frame in sealed { storedTotal += Int64(frame.stored.count) }

        // 5. Append to the pack writer in one critical section.
        try withWriter { (w) throws(StoreError) in
            for frame in sealed { try w.append(frame) }
        }
        newChunks.add(mine.count, ordering: .relaxed)
        newBytes.add(rawTotal, ordering: .relaxed)
        storedBytes.add(storedTotal, ordering: .relaxed)
        progress.advance(by: block.readBytes)
    }
}
