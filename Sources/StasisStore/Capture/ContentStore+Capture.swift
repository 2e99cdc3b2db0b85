import Foundation
import StasisIO

/// What a capture did.
public struct CaptureResult: Sendable, Codable {
    public var image: ImageRecord
    /// True when an image with the same contents was already in the store.
    public var alreadyStored: Bool
    /// Bytes read from the source file (holes and unchanged ranges are not read).
    public var readBytes: Int64
    /// Bytes written to new packs (after compression), and the packs sealed.
    public var storedBytes: Int64
    public var packs: [String]
}

public struct CaptureOptions: Sendable {
    /// The image this one descends from. Required with `dirtyPath`.
    public var parent: String?
    /// A sparse file of the image's size whose allocated ranges are the only ones that changed
    /// since `parent` (a Firecracker diff snapshot, or a file written with only dirty pages).
    public var dirtyPath: String?
    public var workers: Int
    public var packTargetSize: Int

    public init(parent: String? = nil, dirtyPath: String? = nil,
                workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                packTargetSize: Int = PackFormat.defaultTargetSize) {
        self.parent = parent
        self.dirtyPath = dirtyPath
        self.workers = workers
        self.packTargetSize = packTargetSize
    }
}

extension ContentStore {
    /// Captures a block image file into the store: all or nothing. The image exists once the
    /// catalog transaction commits; before that, nothing it wrote is referenced.
    public func capture(_ path: String, options: CaptureOptions = CaptureOptions(),
                        progress: any ProgressReporter = SilentProgress()) throws(StoreError) -> CaptureResult {
        let source = try openImageFile(path, role: "image")
        defer { source.close() }
        let imageSize = try StoreError.wrap { () throws(IOError) in try source.size() }
        guard imageSize <= ImageManifest.maxImageSize else {
            throw .invalidArgument(field: path, message: "\(imageSize) bytes is larger than the 1 TiB this version captures")
        }

        return try withWriter(kind: "capture") { (index, lease) throws(StoreError) -> CaptureResult in
            var trace = PhaseTrace("capture")
            trace.mark("index (\(index.count) chunks)")
            var parent: (manifest: ImageManifest, id: String)?
            if let p = options.parent {
                let id = try catalog.resolveImage(p)
                let m = try manifest(of: id)
                // An incremental capture takes the parent's chunks slot for slot.
                guard m.chunkSize == chunkSize else {
                    throw .invalidArgument(field: "--parent", message: "image \(id) has \(m.chunkSize)-byte chunks and this store captures \(chunkSize)-byte chunks (it was imported from another store): capture without --parent")
                }
                parent = (m, id)
            }

            // What to read: the source's allocated ranges, or the diff's.
            var ranges: [Range<Int64>]
            if let dirtyPath = options.dirtyPath {
                guard let parent else {
                    throw .invalidArgument(field: "--dirty", message: "an incremental capture needs --parent IMAGE: the diff says what changed since that image")
                }
                guard parent.manifest.imageSize == imageSize else {
                    throw .sizeMismatch(path: path, expected: parent.manifest.imageSize, found: imageSize, role: "image")
                }
                let dirty = try openImageFile(dirtyPath, role: "--dirty file")
                defer { dirty.close() }
                let dirtySize = try StoreError.wrap { () throws(IOError) in try dirty.size() }
                guard dirtySize == imageSize else {
                    throw .sizeMismatch(path: dirtyPath, expected: imageSize, found: dirtySize, role: "--dirty file")
                }
                ranges = try StoreError.wrap { () throws(IOError) in try dirty.dataRanges() }
            } else {
                ranges = try StoreError.wrap { () throws(IOError) in try source.dataRanges() }
            }
            ranges = ranges.map { max(0, $0.lowerBound)..<min(imageSize, $0.upperBound) }.filter { !$0.isEmpty }
            trace.mark("parent manifest and ranges")

            let blocks = CapturePlan.blocks(ranges: ranges, imageSize: imageSize, chunkSize: chunkSize)
            let packFiles = PackFiles(layout: layout, objects: objects)
            defer { packFiles.close() }
            let writer = newPackWriter(targetSize: options.packTargetSize)
            let pipeline = CapturePipeline(
                source: source, imageSize: imageSize, chunkSize: chunkSize, index: index,
                parent: options.dirtyPath != nil ? parent : nil,
                packFiles: packFiles, cipher: cipher, compression: compression,
                blocks: blocks, writer: writer, progress: progress)

            progress.begin("capture", total: blocks.reduce(0) { $0 + $1.readBytes })
            defer { progress.end() }
            let sealed: [PackWriter.Sealed]
            do throws(StoreError) {
                try pipeline.run(workers: options.workers)
                trace.mark("read, hash, compress")
                sealed = try pipeline.withWriter { (w) throws(StoreError) in try w.finish() }
                trace.mark("packs durable")
            } catch {
                _ = try? pipeline.withWriter { (w) throws(StoreError) in w.abandon() }
                throw error
            }

            let manifest = ImageManifest(imageSize: imageSize, chunkSize: chunkSize, chunks: Array(pipeline.slots))
            let encoded = manifest.encoded()
            let id = ImageManifest.id(ofEncoded: encoded)
            let record = ImageRecord(
                id: id, parentID: parent?.id, size: imageSize, chunkSize: chunkSize,
                dataChunks: manifest.dataChunkCount, dataBytes: manifest.dataBytes,
                newChunks: pipeline.newChunks.load(ordering: .relaxed), newBytes: pipeline.newBytes.load(ordering: .relaxed),
                source: FileSystem.absolute(path), createdAt: Date())
            let existed = try catalog.image(id) != nil
            do throws(StoreError) {
                trace.mark("manifest encoded")
                let storedManifest = try manifestFiles.write(encoded, id: id)
                trace.mark("manifest durable")
                if lease != nil {
                    // After the capture, not during it: uploading each pack as it was written
                    // measured slower on two cores (5.2 s against 3.6 s for 1 GiB of real data),
                    // the uploads, SeaweedFS and the capture all wanting the same CPUs.
                    try publish(packs: sealed, manifest: (storedManifest, id), lease: lease)
                    trace.mark("objects uploaded")
                }
                CrashPoint.hit("capture.before-commit")
                try catalog.commitCapture(packs: sealed, image: record, lease: lease)
                trace.mark("catalog commit")
            } catch {
                _ = try? pipeline.withWriter { (w) throws(StoreError) in w.abandon() }
                throw error
            }
            CrashPoint.hit("capture.after-commit")
            return CaptureResult(
                image: existed ? (try catalog.image(id) ?? record) : record, alreadyStored: existed,
                readBytes: pipeline.readBytes.load(ordering: .relaxed),
                storedBytes: sealed.reduce(0) { $0 + $1.size }, packs: sealed.map(\.packID))
        }
    }

    /// Opens a file to capture from, with errors that name it and its role.
    func openImageFile(_ path: String, role: String) throws(StoreError) -> FileDescriptor {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, .readOnly) } catch {
            throw .io(error)
        }
        let regular = (try? fd.isRegularFile()) ?? false
        guard regular else { fd.close(); throw .notARegularFile(path: path) }
        return fd
    }
}
