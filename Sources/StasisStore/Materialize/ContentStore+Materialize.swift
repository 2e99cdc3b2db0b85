import Dispatch
import Foundation
import Synchronization
import StasisIO

/// What a materialization did.
public struct MaterializeResult: Sendable, Codable {
    public var image: String
    public var path: String
    public var size: Int64
    /// Bytes written as data (the rest of the file is holes).
    public var dataBytes: Int64
    /// Bytes read from packs.
    public var readBytes: Int64
    /// The already-materialized image it was patched from, if any, and the bytes that differed.
    public var base: String? = nil
    public var patchedBytes: Int64? = nil
    /// Where the packs it read came from (this host, whole downloads, ranged GETs).
    public var sources: PackSources? = nil
}

/// An image already materialized on this host (a read-only file), to copy and patch.
public struct MaterializeBase: Sendable {
    public var imageID: String
    public var path: String
    public init(imageID: String, path: String) { self.imageID = imageID; self.path = path }
}

extension ContentStore {
    /// Writes image `idOrPrefix` to `path`, bit-exact, with holes for zero chunks. Every chunk is
    /// verified before it is written; the file appears under its name only when complete and
    /// fsynced (it is written to a temporary name beside it first), so a failure leaves no output.
    ///
    /// With `base`, the output starts as a copy of that already-materialized image (in-kernel
    /// copy of its allocated ranges) and only the chunks that differ are written: a restore near
    /// a local ancestor costs what changed.
    public func materialize(_ idOrPrefix: String, to path: String, overwrite: Bool = false, base: MaterializeBase? = nil,
                            workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                            progress: any ProgressReporter = SilentProgress()) throws(StoreError) -> MaterializeResult {
        if FileSystem.exists(path) && !overwrite { throw .outputExists(path: path) }
        if FileSystem.isDirectory(path) { throw .outputExists(path: path) }
        return try withLock(.shared) { () throws(StoreError) -> MaterializeResult in
            var trace = PhaseTrace("materialize")
            let id = try catalog.resolveImage(idOrPrefix)
            let manifest = try manifest(of: id)
            let index = try loadIndex()
            var baseManifest: ImageManifest?
            if let base {
                let m = try self.manifest(of: base.imageID)
                let size = try StoreError.wrap { () throws(IOError) in try FileSystem.fileSize(base.path) }
                if m.imageSize == manifest.imageSize && m.chunkSize == manifest.chunkSize && size == m.imageSize { baseManifest = m }
            }
            let (target, holes) = Self.patchTarget(manifest, base: baseManifest)
            trace.mark("manifest and index (\(index.count) chunks)")
            let plan = try MaterializePlan.make(manifest: target, index: index, imageID: id)
            trace.mark("plan (\(plan.batches.count) batches)")
            let dataBytes = baseManifest == nil ? manifest.dataBytes : target.dataBytes
            let directory = FileSystem.parent(of: FileSystem.absolute(path))
            if let free = FileSystem.availableSpace(at: directory), free < dataBytes {
                throw .notEnoughSpace(path: path, needed: dataBytes, available: free)
            }

            let tmpPath = directory + "/." + (path.split(separator: "/").last.map(String.init) ?? "image") + ".stasis-" + PackWriter.newPackID().prefix(8) + ".tmp"
            if let base, baseManifest != nil {
                try StoreError.wrap { () throws(IOError) in _ = try FileSystem.sparseCopy(from: base.path, to: tmpPath) }
            }
            let out = try StoreError.wrap { () throws(IOError) in
                try FileDescriptor.open(tmpPath, baseManifest != nil ? .readWrite : .createExclusive, permissions: 0o644)
            }
            var committed = false
            defer {
                out.close()
                if !committed { try? FileSystem.remove(tmpPath) }
            }
            try StoreError.wrap { () throws(IOError) in
                try out.truncate(to: manifest.imageSize)
                for i in holes {
                    try out.punchHole(at: Int64(i) * Int64(manifest.chunkSize), length: Int64(manifest.length(ofChunk: i)))
                }
            }

            // A fleet store: what this image needs and this host lacks comes down first, in
            // parallel: packs it reads most of whole (into the cache), the rest as ranged GETs
            // of only the frames it reads. (Overlapping the downloads with the workers was
            // measured slower on this two-core machine: both are CPU-bound, with SeaweedFS, on
            // the same cores.)
            let fetch = fetchPlan(for: plan, index: index)
            var partial = SharedObjects.PartialPacks()
            defer { partial.remove() }
            if let objects {
                try objects.prefetch(packs: fetch.wholePackIDs(index))
                partial = try objects.fetchRanges(fetch.rangedSpans(index))
                trace.mark("fetch \(fetch.summary.fetchedBytes) bytes")
            }
            let packs = PackFiles(layout: layout, objects: objects, partial: partial)
            defer { packs.close() }
            progress.begin("materialize", total: dataBytes)
            defer { progress.end() }
            let pacer = DurabilityPacer(out)
            defer { pacer.drain() }
            try MaterializeWorkers(plan: plan, manifest: target, index: index, packs: packs, decoder: FrameDecoder(cipher: cipher),
                                   output: out, pacer: pacer, progress: progress)
                .run(workers: workers)
            pacer.drain()
            trace.mark("read, decode, verify, write")

            try StoreError.wrap { () throws(IOError) in
                try out.sync()
                trace.mark("fsync")
                try FileSystem.renameDurably(tmpPath, to: path)
            }
            committed = true
            return MaterializeResult(image: id, path: path, size: manifest.imageSize, dataBytes: manifest.dataBytes, readBytes: plan.storedBytes,
                                     base: baseManifest == nil ? nil : base?.imageID,
                                     patchedBytes: baseManifest == nil ? nil : dataBytes + Int64(holes.count * manifest.chunkSize),
                                     sources: fetch.summary)
        }
    }
}

extension ContentStore {
    /// Where the packs that materializing image `idOrPrefix` would read come from on this host:
    /// what `restore plan --explain` reports. With `baseImage` (an image materialized on this
    /// host, patched instead of written whole), only the chunks that differ count.
    public func packSources(of idOrPrefix: String, baseImage: String? = nil) throws(StoreError) -> PackSources {
        try withLock(.shared) { () throws(StoreError) -> PackSources in
            let id = try catalog.resolveImage(idOrPrefix)
            let manifest = try manifest(of: id)
            let baseManifest = try baseImage.map { (b) throws(StoreError) in try self.manifest(of: b) }
                .flatMap { $0.imageSize == manifest.imageSize && $0.chunkSize == manifest.chunkSize ? $0 : nil }
            let index = try loadIndex()
            let plan = try MaterializePlan.make(manifest: Self.patchTarget(manifest, base: baseManifest).target, index: index, imageID: id)
            return fetchPlan(for: plan, index: index).summary
        }
    }

    /// With a base of the same geometry, only the chunks that differ from it are written, and
    /// chunks that became zero are punched out (`holes`).
    static func patchTarget(_ manifest: ImageManifest, base: ImageManifest?) -> (target: ImageManifest, holes: [Int]) {
        guard let base else { return (manifest, []) }
        var target = manifest
        var holes: [Int] = []
        for i in target.chunks.indices {
            if target.chunks[i] == base.chunks[i] { target.chunks[i] = nil } else if target.chunks[i] == nil { holes.append(i) }
        }
        return (target, holes)
    }

    func fetchPlan(for plan: MaterializePlan, index: ChunkIndex) -> PackFetchPlan {
        PackFetchPlan.make(plan: plan, index: index, objects: objects?.location) { [layout] in FileSystem.exists(layout.packPath(for: $0)) }
    }
}

extension PackFetchPlan {
    func wholePackIDs(_ index: ChunkIndex) -> [String] {
        sources.filter { $0.value == .whole }.keys.sorted().map { index.packIDs[Int($0)] }
    }

    func rangedSpans(_ index: ChunkIndex) -> [(pack: String, ranges: [Range<Int64>])] {
        sources.sorted { $0.key < $1.key }.compactMap { pack, source in
            if case .ranges(let r) = source { return (index.packIDs[Int(pack)], r) }
            return nil
        }
    }
}

/// The parallel part of materialize: workers take batches, read each with one pread, decode each
/// frame once, verify every chunk, and write it to each place the manifest uses it.
private final class MaterializeWorkers: @unchecked Sendable {
    let plan: MaterializePlan
    let manifest: ImageManifest
    let index: ChunkIndex
    let packs: PackFiles
    let decoder: FrameDecoder
    let output: FileDescriptor
    let pacer: DurabilityPacer
    let progress: any ProgressReporter
    let next = Atomic<Int>(0)
    let failure = Mutex<StoreError?>(nil)

    init(plan: MaterializePlan, manifest: ImageManifest, index: ChunkIndex, packs: PackFiles, decoder: FrameDecoder,
         output: FileDescriptor, pacer: DurabilityPacer, progress: any ProgressReporter) {
        self.plan = plan; self.manifest = manifest; self.index = index
        self.packs = packs; self.decoder = decoder; self.output = output; self.pacer = pacer; self.progress = progress
    }

    func run(workers: Int) throws(StoreError) {
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, plan.batches.count))) { _ in work() }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    private struct Buffers {
        let read: UnsafeMutableRawBufferPointer
        let frame: UnsafeMutableRawBufferPointer
        let scratch: UnsafeMutableRawBufferPointer
    }

    private func work() {
        let buffers = Buffers(
            read: .allocate(byteCount: max(Int(MaterializePlan.maxBatchSpan), plan.largestFrame.stored), alignment: 4096),
            frame: .allocate(byteCount: max(plan.largestFrame.raw, 1), alignment: 4096),
            scratch: .allocate(byteCount: max(plan.largestFrame.stored, 1), alignment: 64))
        var writer = CoalescingWriter(fd: output, pacer: pacer)
        defer { buffers.read.deallocate(); buffers.frame.deallocate(); buffers.scratch.deallocate(); writer.deallocate() }
        do throws(StoreError) {
            while failure.withLock({ $0 == nil }) {
                let b = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard b < plan.batches.count else { break }
                try process(plan.batches[b], buffers: buffers, writer: &writer)
            }
            try StoreError.wrap { () throws(IOError) in try writer.flush() }
        } catch {
            failure.withLock { if $0 == nil { $0 = error } }
        }
    }

    private func process(_ batch: MaterializePlan.Batch, buffers: Buffers, writer: inout CoalescingWriter) throws(StoreError) {
        let packID = index.packIDs[Int(batch.pack)]
        let header = index.headers[Int(batch.pack)]
        let fd = try packs.descriptor(for: packID)
        let span = Int(batch.readRange.count)
        let n = try StoreError.wrap { () throws(IOError) in
            try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffers.read[0..<span]), at: batch.readRange.lowerBound)
        }
        var written: Int64 = 0
        var currentFrame: UInt32 = .max
        var frameBytes = UnsafeRawBufferPointer(start: nil, count: 0)
        var previous: (frame: UInt32, offset: UInt32) = (.max, .max)
        for i in batch.items {
            let item = plan.items[i]
            let loc = item.location
            if loc.frame != currentFrame {
                let frame = index.frame(of: loc)
                let start = Int(frame.offset - batch.readRange.lowerBound)
                let end = start + frame.storedLength
                guard end <= n else {
                    throw .corruptChunk(chunk: item.id, pack: packID, offset: frame.offset, reason: "the pack ends early (truncated)")
                }
                let stored = UnsafeRawBufferPointer(rebasing: buffers.read[start..<end])
                if frame.codec == .raw && !header.encrypted {
                    frameBytes = stored   // used in place: no copy of incompressible frames
                } else {
                    let dest = UnsafeMutableRawBufferPointer(rebasing: buffers.frame[0..<frame.rawLength])
                    do throws(FrameDamage) {
                        try decoder.decode(stored, frame: frame, header: header, into: dest, scratch: buffers.scratch)
                    } catch {
                        throw .corruptChunk(chunk: item.id, pack: packID, offset: frame.offset, reason: error.reason)
                    }
                    frameBytes = UnsafeRawBufferPointer(dest)
                }
                currentFrame = loc.frame
            }
            let expected = manifest.length(ofChunk: item.chunk)
            guard Int(loc.rawLength) == expected else {
                throw .corruptChunk(chunk: item.id, pack: packID, offset: index.frame(of: loc).offset,
                                    reason: "its entry says \(loc.rawLength) bytes where the image needs \(expected)")
            }
            let start = Int(loc.offsetInFrame)
            let bytes = UnsafeRawBufferPointer(rebasing: frameBytes[start..<start + expected])
            if previous != (loc.frame, loc.offsetInFrame) {
                // Each distinct chunk verified once, however many places use it.
                guard ChunkHasher.id(of: bytes) == item.id else {
                    throw .corruptChunk(chunk: item.id, pack: packID, offset: index.frame(of: loc).offset, reason: "its bytes do not hash to its id")
                }
                previous = (loc.frame, loc.offsetInFrame)
            }
            let at = Int64(item.chunk) * Int64(manifest.chunkSize)
            try StoreError.wrap { () throws(IOError) in try writer.write(bytes, at: at) }
            written += Int64(bytes.count)
        }
        progress.advance(by: written)
    }
}
