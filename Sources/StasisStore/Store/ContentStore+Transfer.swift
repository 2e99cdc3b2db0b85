import Foundation
import StasisCatalog
import StasisIO

/// What moving data between stores needs (bundles): verified chunk reads in pack order, a pack
/// encoder that writes into any stream, installing a received pack, and inserting catalog rows
/// inside a caller's transaction. `package` access: the session layer's bundles use it; users of
/// the library go through `SessionStore`.
extension ContentStore {
    /// Calls `body` with every chunk of `ids` (each once), decoded and verified, read in pack
    /// order. A missing chunk throws `missingChunk` naming `context`.
    package func forEachChunk(_ ids: Set<ChunkID>, context: String,
                              _ body: (ChunkID, UnsafeRawBufferPointer) throws(StoreError) -> Void) throws(StoreError) {
        try withLock(.shared) { () throws(StoreError) in
            let index = try loadIndex()
            var located: [(ChunkID, ChunkLocation)] = []
            located.reserveCapacity(ids.count)
            for id in ids {
                guard let loc = index.location(of: id) else { throw .missingChunk(chunk: id, image: context) }
                located.append((id, loc))
            }
            // Pack and frame order: the reader decodes each frame once.
            located.sort { ($0.1.pack, $0.1.frame, $0.1.offsetInFrame) < ($1.1.pack, $1.1.frame, $1.1.offsetInFrame) }
            let files = PackFiles(layout: layout, objects: objects)
            defer { files.close() }
            let reader = ChunkReader(index: index, packs: files, cipher: cipher)
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: PackFormat.maxChunkLength, alignment: 64)
            defer { raw.deallocate() }
            for (id, loc) in located {
                let dest = UnsafeMutableRawBufferPointer(rebasing: raw[0..<Int(loc.rawLength)])
                try reader.read(id, into: dest, image: context)
                try body(id, UnsafeRawBufferPointer(dest))
            }
        }
    }

    /// An image's encoded manifest, checked against its id.
    package func encodedManifest(of imageID: String) throws(StoreError) -> [UInt8] {
        let bytes = try manifestFiles.read(imageID)
        guard ImageManifest.id(ofEncoded: bytes) == imageID else {
            throw .corruptManifest(id: imageID, reason: "its bytes do not hash to its id")
        }
        return bytes
    }

    package func encodedBlobManifest(of blobID: String) throws(StoreError) -> [UInt8] {
        guard let bytes = try catalog.blobManifestBytes(blobID) else { throw .blobNotFound(id: blobID) }
        return bytes
    }

    /// Starts an import's lease in a fleet store (nil on one host): end it with
    /// `Catalog.endImport` inside the import's commit, or `abandonImport` when it fails.
    package func beginImport() throws(StoreError) -> WriterLease? {
        objects == nil ? nil : try catalog.beginWriter(kind: "import")
    }

    package func abandonImport(_ lease: WriterLease?) {
        if let lease { catalog.abandonWriter(lease) }
    }

    /// Makes a manifest durable under its id (before the catalog row that lists the image); in a
    /// fleet store uploaded under the import's lease.
    package func writeManifest(_ bytes: [UInt8], id: String, lease: WriterLease? = nil) throws(StoreError) {
        let stored = try manifestFiles.write(bytes, id: id)
        try publish(packs: [], manifest: (stored, id), lease: lease)
    }

    /// Adds the chunks of a received pack file (a bundle's, in any readable pack version, not
    /// sealed) to the store: every chunk is decoded and verified, then written into new packs of
    /// this store's own format (sealed with its keys when it is encrypted), durably. Returns
    /// their catalog rows; the received file is removed.
    package func installPack(at path: String, lease: WriterLease? = nil) throws(StoreError) -> [PackRow] {
        let received = try PackIndex.read(packID: "received pack", path: path, cipher: nil)
        let fd = try StoreError.wrap { () throws(IOError) in try FileDescriptor.open(path, .readOnly) }
        defer { fd.close(); try? FileSystem.remove(path) }
        let writer = newPackWriter()
        let decoder = FrameDecoder(cipher: nil)
        var stored = UnsafeMutableRawBufferPointer.allocate(byteCount: PackFormat.defaultFrameSize, alignment: 64)
        var frame = UnsafeMutableRawBufferPointer.allocate(byteCount: PackFormat.defaultFrameSize, alignment: 64)
        var scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: PackFormat.defaultFrameSize, alignment: 64)
        defer { stored.deallocate(); frame.deallocate(); scratch.deallocate() }
        let sealed: [PackWriter.Sealed]
        do throws(StoreError) {
            var e = 0
            for (f, record) in received.frames.enumerated() {
                ChunkReader.ensure(&stored, record.storedLength)
                ChunkReader.ensure(&frame, record.rawLength)
                ChunkReader.ensure(&scratch, record.storedLength)
                let input = UnsafeMutableRawBufferPointer(rebasing: stored[0..<record.storedLength])
                try StoreError.wrap { () throws(IOError) in try fd.readExactly(into: input, at: record.offset) }
                let output = UnsafeMutableRawBufferPointer(rebasing: frame[0..<record.rawLength])
                do throws(FrameDamage) {
                    try decoder.decode(UnsafeRawBufferPointer(input), frame: record, header: received.header, into: output, scratch: scratch)
                } catch {
                    throw .corruptPack(pack: path, reason: error.reason)
                }
                while e < received.entries.count && received.entries[e].frame == f {
                    let entry = received.entries[e]
                    let bytes = UnsafeRawBufferPointer(rebasing: output[entry.offsetInFrame..<entry.offsetInFrame + entry.rawLength])
                    guard ChunkHasher.id(of: bytes) == entry.id else {
                        throw .corruptChunk(chunk: entry.id, pack: path, offset: record.offset, reason: "its bytes do not hash to its id")
                    }
                    try writer.append(id: entry.id, raw: bytes)
                    e += 1
                }
            }
            sealed = try writer.finish()
            // Durable in object storage, under the import's lease, before its commit names them.
            try publish(packs: sealed, manifest: nil, lease: lease)
        } catch {
            writer.abandon()
            throw error
        }
        return sealed.map { PackRow(sealed: $0) }
    }

    /// Runs `body` holding the store lock shared, as captures do: a local `gc` (which holds it
    /// exclusively) cannot remove an import's packs and manifests between their writing and the
    /// commit that lists them. `failed` turns a lock failure into the caller's error.
    package func withSharedLock<T, E: Error>(_ failed: (StoreError) -> E, _ body: () throws(E) -> T) throws(E) -> T {
        let lock: FileLock
        do { lock = try FileLock(path: layout.lockPath, kind: .shared) } catch { throw failed(.io(error)) }
        defer { lock.unlock() }
        return try body()
    }

    /// A temporary path on the store's file system (for a pack being received).
    package func temporaryPath(_ suffix: String) -> String {
        layout.temporaryDirectory + "/" + PackWriter.newPackID() + suffix
    }
}

/// A pack's catalog row, as the transfer API hands it around.
package struct PackRow: Sendable {
    let sealed: PackWriter.Sealed
}

extension Catalog {
    /// Inserts pack, image and blob rows inside the caller's transaction (bundle import).
    /// Ends an import's lease inside its commit (a lease that expired fails the commit).
    package static func endImport(_ lease: WriterLease?, _ db: any CatalogConnection) throws {
        if let lease { try endWriter(lease, db) }
    }

    package static func insert(packs: [PackRow], images: [ImageRecord], blobs: [(id: String, size: Int64, manifest: [UInt8])],
                               _ db: any CatalogConnection) throws(CatalogError) {
        try insertPacks(packs.map(\.sealed), db)
        for image in images { try insertImage(image, db) }
        for blob in blobs { try insertBlob(id: blob.id, size: blob.size, manifest: blob.manifest, db) }
    }
}

/// Writes a version-1 pack (Formats/pack.md) into any byte sink, chunk by chunk: the bundle
/// format embeds packs this way. Version 1 because a bundle leaves the store: its chunks are
/// compressed one by one and never sealed, so any store (with its own keys) can take them in.
package struct PackEncoder {
    private var entries: [UInt8] = []
    private var offset = Int64(PackFormat.headerSize)
    private let scratch: UnsafeMutableRawBufferPointer

    package init() {
        scratch = .allocate(byteCount: LZ4Block.scratchCapacity(forRawLength: PackFormat.maxChunkLength), alignment: 64)
    }

    package func deallocate() { scratch.deallocate() }

    package var header: [UInt8] { PackFormat.Header.v1.bytes }

    /// Encodes one raw chunk; `sink` receives its stored bytes.
    package mutating func append(id: ChunkID, raw: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        let room = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<LZ4Block.scratchCapacity(forRawLength: raw.count)])
        var w = LittleEndianWriter(capacity: PackFormat.v1EntrySize)
        w.chunkID(id)
        w.u32(UInt32(raw.count))
        if let n = LZ4Block.compress(raw, into: room) {
            try sink(UnsafeRawBufferPointer(rebasing: room[0..<n]))
            w.u32(UInt32(n))
            w.u8(FrameCodec.lz4.rawValue)
            offset += Int64(n)
        } else {
            try sink(raw)
            w.u32(UInt32(raw.count))
            w.u8(FrameCodec.raw.rawValue)
            offset += Int64(raw.count)
        }
        w.zeros(3)
        entries.append(contentsOf: w.bytes)
    }

    /// The entry table and trailer that end the pack.
    package func footer() -> [UInt8] {
        entries + PackIndex.trailer(header: .v1, tableOffset: offset, storedTable: entries)
    }
}

/// A pack inside another file (a bundle): its checked table, and verified chunk decoding.
package struct EmbeddedPack: Sendable {
    package struct Entry: Sendable {
        package var id: ChunkID
        /// Where its frame is in the pack, and how long.
        package var offset: Int64
        package var storedLength: Int
        package var rawLength: Int
        let frame: PackFrame
        let offsetInFrame: Int
    }
    package let entries: [Entry]
    let header: PackFormat.Header

    /// Parses the pack of `size` bytes that `read(offset, count)` returns. Packs inside bundles
    /// are never sealed.
    package static func parse(name: String, size: Int64, read: (Int64, Int) throws(StoreError) -> [UInt8]) throws(StoreError) -> EmbeddedPack {
        let stored = try PackIndex.readTable(packID: name, size: size, read: read)
        let index = try PackIndex.decode(packID: name, header: stored.header, storedTable: stored.table, tableOffset: stored.tableOffset, cipher: nil)
        return EmbeddedPack(entries: index.entries.map { e in
            let frame = index.frames[e.frame]
            return Entry(id: e.id, offset: frame.offset, storedLength: frame.storedLength, rawLength: e.rawLength, frame: frame, offsetInFrame: e.offsetInFrame)
        }, header: index.header)
    }

    /// Raw bytes of `entry` from its frame's stored bytes, verified against its id.
    package func decode(_ entry: Entry, stored: [UInt8], pack: String) throws(StoreError) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: entry.frame.rawLength)
        var scratch = [UInt8](repeating: 0, count: entry.frame.storedLength)
        do throws(FrameDamage) {
            try stored.withRawBytes { (s) throws(FrameDamage) in
                try frame.withMutableRawBytes { (f) throws(FrameDamage) in
                    try scratch.withMutableRawBytes { (t) throws(FrameDamage) in
                        try FrameDecoder(cipher: nil).decode(s, frame: entry.frame, header: header, into: f, scratch: t)
                    }
                }
            }
        } catch {
            throw .corruptChunk(chunk: entry.id, pack: pack, offset: entry.offset, reason: error.reason)
        }
        let raw = Array(frame[entry.offsetInFrame..<entry.offsetInFrame + entry.rawLength])
        guard ChunkHasher.id(of: raw) == entry.id else {
            throw .corruptChunk(chunk: entry.id, pack: pack, offset: entry.offset, reason: "its bytes do not hash to its id")
        }
        return raw
    }
}
