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
            located.sort { ($0.1.pack, $0.1.offset) < ($1.1.pack, $1.1.offset) }
            let files = PackFiles(layout: layout, objects: objects)
            defer { files.close() }
            let reader = ChunkReader(index: index, packs: files)
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: PackFormat.maxChunkLength, alignment: 64)
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: PackFormat.maxChunkLength, alignment: 64)
            defer { raw.deallocate(); scratch.deallocate() }
            for (id, loc) in located {
                let dest = UnsafeMutableRawBufferPointer(rebasing: raw[0..<Int(loc.rawLength)])
                try reader.read(id, into: dest, scratch: scratch, image: context)
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
        try manifestFiles.write(bytes, id: id)
        try publish(packs: [], manifest: (bytes, id), lease: lease)
    }

    /// Moves a complete pack file (already checked by `PackIndex.read`) into `packs/`, durably,
    /// and returns its catalog row. The file must be on the store's file system.
    package func installPack(at path: String, lease: WriterLease? = nil) throws(StoreError) -> (id: String, row: PackRow) {
        let id = PackWriter.newPackID()
        let index = try PackIndex.read(packID: id, path: path)
        let size = try StoreError.wrap { () throws(IOError) in
            let fd = try FileDescriptor.open(path, .readOnly)
            defer { fd.close() }
            try fd.sync()
            let dir = layout.packDirectory(for: id)
            if !FileSystem.isDirectory(dir) {
                try FileSystem.createDirectory(dir)
                try FileSystem.syncDirectory(containing: dir)
            }
            try FileSystem.renameDurably(path, to: layout.packPath(for: id))
            return try FileSystem.fileSize(layout.packPath(for: id))
        }
        let sealed = PackWriter.Sealed(
            packID: id, size: size, chunkCount: index.entries.count,
            rawBytes: index.entries.reduce(0) { $0 + Int64($1.rawLength) },
            storedBytes: index.entries.reduce(0) { $0 + Int64($1.storedLength) }, entryTable: index.encodedEntries)
        // Durable in object storage, under the import's lease, before its commit names it.
        try publish(packs: [sealed], manifest: nil, lease: lease)
        return (id, PackRow(sealed: sealed))
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

/// Writes a pack (Formats/pack.md) into any byte sink, chunk by chunk: the bundle format embeds
/// packs this way.
package struct PackEncoder {
    private var entries: [PackEntry] = []
    private var offset = Int64(PackFormat.headerSize)
    private let scratch: UnsafeMutableRawBufferPointer

    package init() {
        scratch = .allocate(byteCount: ChunkCodec.scratchCapacity(forRawLength: PackFormat.maxChunkLength), alignment: 64)
    }

    package func deallocate() { scratch.deallocate() }

    package var header: [UInt8] { PackFormat.header }

    /// Encodes one raw chunk; `sink` receives its stored bytes.
    package mutating func append(id: ChunkID, raw: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        let room = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<ChunkCodec.scratchCapacity(forRawLength: raw.count)])
        if let n = ChunkCodec.compress(raw, into: room) {
            try sink(UnsafeRawBufferPointer(rebasing: room[0..<n]))
            entries.append(PackEntry(id: id, offset: offset, rawLength: raw.count, storedLength: n, encoding: .lz4))
            offset += Int64(n)
        } else {
            try sink(raw)
            entries.append(PackEntry(id: id, offset: offset, rawLength: raw.count, storedLength: raw.count, encoding: .raw))
            offset += Int64(raw.count)
        }
    }

    /// The entry table and trailer that end the pack.
    package func footer() -> [UInt8] {
        let table = PackIndex.encode(entries)
        return table + PackIndex.trailer(entriesOffset: offset, encodedEntries: table)
    }
}

/// A pack inside another file (a bundle): its checked entry table, and verified chunk decoding.
package struct EmbeddedPack: Sendable {
    package struct Entry: Sendable {
        package var id: ChunkID
        package var offset: Int64
        package var rawLength: Int
        package var storedLength: Int
        var encoding: ChunkEncoding
    }
    package let entries: [Entry]

    /// Parses the pack of `size` bytes that `read(offset, count)` returns.
    package static func parse(name: String, size: Int64, read: (Int64, Int) throws(StoreError) -> [UInt8]) throws(StoreError) -> EmbeddedPack {
        let (table, entriesOffset) = try PackIndex.readTable(packID: name, size: size, read: read)
        let index = try PackIndex.decode(packID: name, encodedEntries: table, entriesOffset: entriesOffset)
        return EmbeddedPack(entries: index.entries.map { Entry(id: $0.id, offset: $0.offset, rawLength: $0.rawLength, storedLength: $0.storedLength, encoding: $0.encoding) })
    }

    /// Raw bytes of `entry` from its stored bytes, verified against its id.
    package func decode(_ entry: Entry, stored: [UInt8], pack: String) throws(StoreError) -> [UInt8] {
        var raw = [UInt8](repeating: 0, count: entry.rawLength)
        let loc = ChunkLocation(pack: 0, encoding: entry.encoding, rawLength: UInt32(entry.rawLength), storedLength: UInt32(entry.storedLength), offset: entry.offset)
        try stored.withRawBytes { (s) throws(StoreError) in
            try raw.withMutableRawBytes { (r) throws(StoreError) in
                try ChunkReader.decodeAndVerify(entry.id, stored: s, location: loc, packID: pack, into: r)
            }
        }
        return raw
    }
}
