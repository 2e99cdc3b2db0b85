import Crypto
import Foundation
import StasisChunking
import StasisIO

extension ContentStore {
    /// The chunker for byte streams. Its parameters are part of the format: changing them would
    /// stop new blobs from sharing chunks with old ones.
    public static let blobChunker = FastCDC.standard

    /// Stores a byte stream, cut by FastCDC so that a stream that grows or changes in the middle
    /// shares all its other chunks with earlier versions. All or nothing, like a capture.
    public func putBlob(_ bytes: [UInt8]) throws(StoreError) -> BlobRecord {
        try bytes.withRawBytes { (raw) throws(StoreError) in try putBlob(raw) }
    }

    public func putBlob(_ bytes: UnsafeRawBufferPointer) throws(StoreError) -> BlobRecord {
        try withWriter(kind: "blob") { (index, lease) throws(StoreError) -> BlobRecord in
            let writer = newPackWriter()
            var entries: [BlobManifest.Entry] = []
            var seen = Set<ChunkID>()
            do throws(StoreError) {
                try Self.blobChunker.forEachChunk(in: bytes) { (range) throws(StoreError) in
                    let chunk = UnsafeRawBufferPointer(rebasing: bytes[range])
                    let id = ChunkHasher.id(of: chunk)
                    entries.append(.init(length: chunk.count, id: id))
                    guard index.location(of: id) == nil, seen.insert(id).inserted else { return }
                    try writer.append(id: id, raw: chunk)
                }
                let sealed = try writer.finish()
                let id = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
                let manifest = BlobManifest(size: Int64(bytes.count), entries: entries)
                try publish(packs: sealed, manifest: nil, lease: lease)
                try catalog.commitBlob(packs: sealed, id: id, size: Int64(bytes.count), manifest: manifest.encoded(), lease: lease)
                return BlobRecord(id: id, size: Int64(bytes.count), chunks: entries.count, createdAt: Date())
            } catch {
                writer.abandon()
                throw error
            }
        }
    }

    /// A blob's bytes, every chunk verified, and the whole checked against the blob id.
    public func blob(_ id: String) throws(StoreError) -> [UInt8] {
        try withLock(.shared) { () throws(StoreError) -> [UInt8] in
            guard let bytes = try catalog.blobManifestBytes(id.lowercased()) else { throw .blobNotFound(id: id) }
            let manifest = try BlobManifest.decode(bytes, id: id)
            let index = try loadIndex()
            let files = PackFiles(layout: layout, objects: objects)
            defer { files.close() }
            let reader = ChunkReader(index: index, packs: files, cipher: cipher)
            var out = [UInt8](repeating: 0, count: Int(manifest.size))
            try out.withMutableRawBytes { (raw) throws(StoreError) in
                var at = 0
                for e in manifest.entries {
                    try reader.read(e.id, into: UnsafeMutableRawBufferPointer(rebasing: raw[at..<at + e.length]), image: "blob \(id)")
                    at += e.length
                }
            }
            let digest = SHA256.hash(data: out).map { String(format: "%02x", $0) }.joined()
            guard digest == id.lowercased() else {
                throw .corruptManifest(id: id, reason: "the blob's chunks do not add up to its id")
            }
            return out
        }
    }

    /// A blob's manifest as the catalog holds it, decoded, and checked against the size in the
    /// blob's catalog row. (The manifest is not named by its own hash: only reassembling the
    /// blob — `blob(_:)` or `verify(deep: true)` — proves its chunk list.)
    public func blobManifest(_ id: String) throws(StoreError) -> BlobManifest {
        let key = id.lowercased()
        guard let row = try catalog.blobRow(key) else { throw .blobNotFound(id: id) }
        let manifest = try BlobManifest.decode(row.manifest, id: key)
        guard manifest.size == row.size else {
            throw .corruptManifest(id: key, reason: "blob manifest lists \(manifest.size) bytes, but its catalog row says \(row.size)")
        }
        return manifest
    }

    public func removeBlob(_ id: String) throws(StoreError) {
        if let holder = try catalog.checkpointHolding(id.lowercased()) { throw .heldByCheckpoint(target: id, checkpoint: holder) }
        guard try catalog.deleteBlob(id.lowercased()) else { throw .blobNotFound(id: id) }
    }
}
