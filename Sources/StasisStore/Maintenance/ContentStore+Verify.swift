import Crypto
import Foundation
import StasisIO

/// What `verify` found.
public struct VerifyReport: Sendable, Codable {
    public struct Problem: Sendable, Codable {
        /// `missing-pack`, `corrupt-pack`, `newer-pack`, `pack-mismatch`, `corrupt-manifest`, `image-mismatch`,
        /// `missing-chunk`, `corrupt-chunk`, `corrupt-blob-manifest`, `corrupt-blob`; the session
        /// layer adds `damaged-checkpoint`, `orphan-reference`, `damaged-history`, `store-key`.
        public var kind: String
        /// The pack, image or chunk concerned.
        public var subject: String
        public var message: String
        /// Images that can no longer be materialized because of it.
        public var affectedImages: [String]
        /// Blobs that can no longer be read because of it.
        public var affectedBlobs: [String] = []

        public init(kind: String, subject: String, message: String, affectedImages: [String] = [], affectedBlobs: [String] = []) {
            self.kind = kind
            self.subject = subject
            self.message = message
            self.affectedImages = affectedImages
            self.affectedBlobs = affectedBlobs
        }
    }
    public var deep: Bool
    public var images = 0
    public var blobs = 0
    public var packs = 0
    public var chunksChecked = 0
    public var bytesChecked: Int64 = 0
    /// Files of crashed writers that `gc` will remove (not damage).
    public var leftoverFiles = 0
    /// LangGraph values (checked by `stasis verify --deep`, see StasisGraphStore).
    public var graphValues = 0
    /// Checkpoints and session histories (checked by StasisSessions, see `SessionStore.verifyCatalog`).
    public var checkpoints = 0
    public var histories = 0
    public var problems: [Problem] = []
    public var ok: Bool { problems.isEmpty }
}

extension ContentStore {
    /// Checks that every committed image can be materialized: manifests hash to their ids, every
    /// chunk they name is in a pack, every pack file exists and matches its catalog entry table.
    /// `deep` also reads every chunk of every pack, decodes it and re-hashes it.
    public func verify(deep: Bool = false, progress: any ProgressReporter = SilentProgress()) throws(StoreError) -> VerifyReport {
        try withLock(.shared) { () throws(StoreError) -> VerifyReport in
            var report = VerifyReport(deep: deep)
            let records = try catalog.packs()
            report.packs = records.count
            var packs: [PackIndex] = []
            var unusablePacks = Set<String>()
            var damagedChunks: [ChunkID: String] = [:]   // chunk → message

            // 1. Every listed pack file: present, a well-formed pack, of the size committed. In a
            //    fleet store a plain verify does not download what this host has not cached: the
            //    object's size comes from a HEAD request and its table from the catalog's copy
            //    (checked as a pack file's is); `deep` downloads and reads everything.
            let catalogTables = objects == nil ? [:] : Dictionary(try catalog.packTables().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for record in records {
                let path = layout.packPath(for: record.id)
                do throws(StoreError) {
                    let onDisk: PackIndex
                    let size: Int64
                    if let objects, !deep, !FileSystem.exists(path), let row = catalogTables[record.id], let table = row.table {
                        guard let objectSize = try objects.size(ofPack: record.id) else { throw .missingPack(pack: record.id) }
                        let header = try row.header.map { (bytes) throws(StoreError) in try PackFormat.Header.parse(bytes, pack: record.id) } ?? .v1
                        onDisk = try PackIndex.decode(packID: record.id, header: header, storedTable: table,
                                                      tableOffset: objectSize - Int64(table.count) - Int64(PackFormat.trailerSize), cipher: cipher)
                        size = objectSize
                    } else {
                        _ = try cachedPackPath(record.id)
                        onDisk = try PackIndex.read(packID: record.id, path: path, cipher: cipher)
                        size = try StoreError.wrap { () throws(IOError) in try FileSystem.fileSize(path) }
                    }
                    if size != record.size || onDisk.entries.count != record.chunkCount {
                        unusablePacks.insert(record.id)
                        report.problems.append(.init(kind: "pack-mismatch", subject: record.id,
                            message: "pack \(record.id) on disk (\(size) bytes, \(onDisk.entries.count) chunks) does not match its catalog row (\(record.size) bytes, \(record.chunkCount) chunks): restore it from a copy", affectedImages: []))
                    } else {
                        packs.append(onDisk)
                    }
                } catch {
                    unusablePacks.insert(record.id)
                    let kind: String
                    switch error {
                    case .missingPack: kind = "missing-pack"
                    case .newerPack: kind = "newer-pack"   // unreadable here, not damaged
                    default: kind = "corrupt-pack"
                    }
                    report.problems.append(.init(kind: kind, subject: record.id, message: error.description, affectedImages: []))
                }
            }
            let index = ChunkIndex(packs: packs)

            // 2. Deep: every chunk of every readable pack, in file order.
            if deep {
                progress.begin("verify", total: records.reduce(0) { $0 + $1.size })
                let files = PackFiles(layout: layout, objects: objects)
                defer { files.close(); progress.end() }
                for pack in packs where !unusablePacks.contains(pack.packID) {
                    let checked = try verifyChunks(of: pack, files: files, progress: progress) { entry, message in
                        damagedChunks[entry.id] = message
                    }
                    report.chunksChecked += checked.chunks
                    report.bytesChecked += checked.bytes
                }
            }

            // 3. Every manifest, and the chunks it names.
            var missing: [ChunkID: [String]] = [:]
            var unreadable: [ChunkID: [String]] = [:]
            let images = try catalog.images()
            report.images = images.count
            for image in images {
                do throws(StoreError) {
                    let manifest = try manifest(of: image.id)
                    // The catalog row is what listings, stats and restore plans read.
                    let row = (size: image.size, chunkSize: image.chunkSize, dataChunks: image.dataChunks, dataBytes: image.dataBytes)
                    let fromManifest = (size: manifest.imageSize, chunkSize: manifest.chunkSize, dataChunks: manifest.dataChunkCount, dataBytes: manifest.dataBytes)
                    if row != fromManifest {
                        report.problems.append(.init(kind: "image-mismatch", subject: image.id,
                            message: "image \(image.id)'s catalog row (size \(row.size), chunk size \(row.chunkSize), \(row.dataChunks) data chunks, \(row.dataBytes) data bytes) does not match its manifest (size \(fromManifest.size), chunk size \(fromManifest.chunkSize), \(fromManifest.dataChunks) data chunks, \(fromManifest.dataBytes) data bytes): the catalog was edited",
                            affectedImages: [image.id]))
                    }
                    for case let c? in Set(manifest.chunks) {
                        guard let loc = index.location(of: c) else { missing[c, default: []].append(image.id); continue }
                        if damagedChunks[c] != nil { unreadable[c, default: []].append(image.id) }
                    }
                } catch {
                    report.problems.append(.init(kind: "corrupt-manifest", subject: image.id, message: error.description, affectedImages: [image.id]))
                }
            }
            // 4. Every blob: its manifest decodes and matches its catalog row, and names chunks
            //    the packs hold; deep: its chunks, read back, add up to its id (a blob manifest is
            //    not named by its own hash, so only this proves its chunk list).
            var missingFromBlobs: [ChunkID: [String]] = [:]
            var unreadableBlobs: [ChunkID: [String]] = [:]
            let blobs = try catalog.blobRows()
            report.blobs = blobs.count
            let files = PackFiles(layout: layout, objects: objects)
            defer { files.close() }
            let reader = ChunkReader(index: index, packs: files, cipher: cipher)
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: PackFormat.maxChunkLength, alignment: 64)
            defer { raw.deallocate() }
            for blob in blobs {
                let manifest: BlobManifest
                do throws(StoreError) { manifest = try BlobManifest.decode(blob.manifest, id: blob.id) } catch {
                    report.problems.append(.init(kind: "corrupt-blob-manifest", subject: blob.id,
                        message: "blob \(blob.id): \(error.description)", affectedImages: [], affectedBlobs: [blob.id]))
                    continue
                }
                if manifest.size != blob.size {
                    report.problems.append(.init(kind: "corrupt-blob-manifest", subject: blob.id,
                        message: "blob \(blob.id): its manifest lists \(manifest.size) bytes but its catalog row says \(blob.size)", affectedImages: [], affectedBlobs: [blob.id]))
                    continue
                }
                var complete = true
                for e in manifest.entries {
                    if index.location(of: e.id) == nil { missingFromBlobs[e.id, default: []].append(blob.id); complete = false }
                    else if damagedChunks[e.id] != nil { unreadableBlobs[e.id, default: []].append(blob.id); complete = false }
                }
                guard deep, complete else { continue }
                var hash = SHA256()
                do throws(StoreError) {
                    for e in manifest.entries {
                        let out = UnsafeMutableRawBufferPointer(rebasing: raw[0..<e.length])
                        try reader.read(e.id, into: out, image: "blob \(blob.id)")
                        hash.update(bufferPointer: UnsafeRawBufferPointer(out))
                    }
                    let digest = hash.finalize().map { String(format: "%02x", $0) }.joined()
                    if digest != blob.id {
                        report.problems.append(.init(kind: "corrupt-blob", subject: blob.id,
                            message: "blob \(blob.id): the chunks its manifest lists add up to \(digest), not to its id: the manifest was edited", affectedImages: [], affectedBlobs: [blob.id]))
                    }
                } catch {
                    report.problems.append(.init(kind: "corrupt-blob", subject: blob.id, message: "blob \(blob.id): \(error.description)",
                                                 affectedImages: [], affectedBlobs: [blob.id]))
                }
            }

            for chunk in Set(missing.keys).union(missingFromBlobs.keys).sorted() {
                let images = (missing[chunk] ?? []).sorted(), blobs = Array(Set(missingFromBlobs[chunk] ?? [])).sorted()
                let message = images.first.map { StoreError.missingChunk(chunk: chunk, image: $0).description }
                    ?? "blob \(blobs[0]) names chunk \(chunk) that is in no pack of this store: the blob cannot be read; run `stasis verify` and restore the missing pack from a copy"
                report.problems.append(.init(kind: "missing-chunk", subject: chunk.hex, message: message, affectedImages: images, affectedBlobs: blobs))
            }
            for (chunk, message) in damagedChunks.sorted(by: { $0.key < $1.key }) {
                report.problems.append(.init(kind: "corrupt-chunk", subject: chunk.hex, message: message,
                                             affectedImages: (unreadable[chunk] ?? []).sorted(),
                                             affectedBlobs: Array(Set(unreadableBlobs[chunk] ?? [])).sorted()))
            }
            // A pack that cannot be read takes its chunks with it: they show as missing, and the
            // images missing chunks are the ones the unreadable packs affect.
            let lost = Set(missing.values.joined()).sorted()
            let lostBlobs = Set(missingFromBlobs.values.joined()).sorted()
            for i in report.problems.indices where unusablePacks.contains(report.problems[i].subject) {
                report.problems[i].affectedImages = lost
                report.problems[i].affectedBlobs = lostBlobs
            }
            report.leftoverFiles = (try? leftoverFiles(known: Set(packs.map(\.packID))).count) ?? 0
            return report
        }
    }

    /// Reads a pack front to back in large blocks, decodes every frame and checks every chunk.
    /// Returns counts.
    private func verifyChunks(of pack: PackIndex, files: PackFiles, progress: any ProgressReporter,
                              damaged: (PackEntry, String) -> Void) throws(StoreError) -> (chunks: Int, bytes: Int64) {
        let fd = try files.descriptor(for: pack.packID)
        let blockSize = 8 << 20
        let largest = pack.frames.reduce((raw: 1, stored: 1)) { (max($0.raw, $1.rawLength), max($0.stored, $1.storedLength)) }
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(blockSize, largest.stored), alignment: 4096)
        let frameBytes = UnsafeMutableRawBufferPointer.allocate(byteCount: largest.raw, alignment: 64)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: largest.stored, alignment: 64)
        defer { block.deallocate(); frameBytes.deallocate(); scratch.deallocate() }
        let decoder = FrameDecoder(cipher: cipher)
        var chunks = 0
        var bytes: Int64 = 0
        var f = 0, e = 0
        while f < pack.frames.count {
            // Frames f..<g, read with one pread.
            let start = pack.frames[f].offset
            var g = f, end = start
            while g < pack.frames.count && (g == f || end - start + Int64(pack.frames[g].storedLength) <= Int64(blockSize)) {
                end = pack.frames[g].offset + Int64(pack.frames[g].storedLength)
                g += 1
            }
            let span = Int(end - start)
            let n = try StoreError.wrap { () throws(IOError) in
                try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: block[0..<span]), at: start)
            }
            for k in f..<g {
                let frame = pack.frames[k]
                let first = e
                while e < pack.entries.count && pack.entries[e].frame == k { e += 1 }
                let members = pack.entries[first..<e]
                let at = Int(frame.offset - start)
                var failure: String?
                if at + frame.storedLength > n {
                    failure = "the pack ends early (truncated)"
                } else {
                    do throws(FrameDamage) {
                        try decoder.decode(UnsafeRawBufferPointer(rebasing: block[at..<at + frame.storedLength]), frame: frame, header: pack.header,
                                           into: UnsafeMutableRawBufferPointer(rebasing: frameBytes[0..<frame.rawLength]), scratch: scratch)
                    } catch {
                        failure = error.reason
                    }
                }
                for entry in members {
                    if let failure {
                        damaged(entry, StoreError.corruptChunk(chunk: entry.id, pack: pack.packID, offset: frame.offset, reason: failure).description)
                    } else if ChunkHasher.id(of: UnsafeRawBufferPointer(rebasing: frameBytes[entry.offsetInFrame..<entry.offsetInFrame + entry.rawLength])) != entry.id {
                        damaged(entry, StoreError.corruptChunk(chunk: entry.id, pack: pack.packID, offset: frame.offset, reason: "its bytes do not hash to its id").description)
                    }
                    chunks += 1
                    bytes += Int64(entry.rawLength)
                }
            }
            progress.advance(by: Int64(span))
            f = g
        }
        return (chunks, bytes)
    }
}
