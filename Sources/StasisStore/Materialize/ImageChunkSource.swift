import StasisIO

/// The chunks of one image, read on demand instead of all at once (a lazy restore): each read
/// goes through the same verified path as `materialize` (pack frame decoded, chunk re-hashed
/// against its id), packs missing on this host come from object storage into the cache first.
///
/// Holds the store's shared lock until `close()`, so that no `gc` rewrites or deletes a pack
/// while the image is still being read.
public final class ImageChunkSource: Sendable {
    public let imageID: String
    public let manifest: ImageManifest
    let index: ChunkIndex
    let packs: PackFiles
    let cipher: StoreCipher?
    let lock: FileLock

    init(imageID: String, manifest: ImageManifest, index: ChunkIndex, packs: PackFiles, cipher: StoreCipher?, lock: FileLock) {
        self.imageID = imageID
        self.manifest = manifest
        self.index = index
        self.packs = packs
        self.cipher = cipher
        self.lock = lock
    }

    /// A reader for one thread (it owns its decode buffers).
    public func reader() -> Reader { Reader(self) }

    /// Closes the packs and releases the store lock; readers must not be used after.
    public func close() {
        packs.close()
        lock.unlock()
    }

    public final class Reader {
        let source: ImageChunkSource
        let chunks: ChunkReader

        init(_ source: ImageChunkSource) {
            self.source = source
            self.chunks = ChunkReader(index: source.index, packs: source.packs, cipher: source.cipher)
        }

        /// Reads chunk number `index` of the image into `destination` (its length exactly),
        /// verified. A zero chunk is zeros without a read.
        public func read(chunk index: Int, into destination: UnsafeMutableRawBufferPointer) throws(StoreError) {
            guard let id = source.manifest.chunks[index] else {
                destination.initializeMemory(as: UInt8.self, repeating: 0)
                return
            }
            try chunks.read(id, into: destination, image: source.imageID)
        }
    }
}

extension ContentStore {
    /// Opens image `imageID` for chunk-by-chunk reads (see `ImageChunkSource`).
    public func chunkSource(of imageID: String) throws(StoreError) -> ImageChunkSource {
        let lock = try StoreError.wrap { () throws(IOError) in try FileLock(path: layout.lockPath, kind: .shared) }
        do {
            let id = try catalog.resolveImage(imageID)
            let manifest = try manifest(of: id)
            let index = try loadIndex()
            return ImageChunkSource(imageID: id, manifest: manifest, index: index, packs: PackFiles(layout: layout, objects: objects),
                                    cipher: cipher, lock: lock)
        } catch {
            lock.unlock()
            throw error
        }
    }
}
