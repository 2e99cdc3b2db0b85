import Foundation
import StasisIO

/// A content-addressed store of block images and byte streams, on one directory.
///
/// Safe to use from several processes at once: the catalog is SQLite in WAL mode, every writer
/// appends to packs of its own, and a `flock` keeps the garbage collector (exclusive) apart from
/// captures and readers (shared), so gc never deletes a chunk that a capture is about to reference.
public final class ContentStore: Sendable {
    public let layout: StoreLayout
    public let catalog: Catalog
    /// Fixed chunk size of block images in this store (bytes, a power of two).
    public let chunkSize: Int

    public static let defaultChunkSize = 4096
    public static let allowedChunkSizes = (12...21).map { 1 << $0 }   // 4 KiB … 2 MiB

    private init(layout: StoreLayout, catalog: Catalog, chunkSize: Int) {
        self.layout = layout
        self.catalog = catalog
        self.chunkSize = chunkSize
    }

    /// Creates a new, empty store at `root` (the directory may exist but must hold no store).
    public static func create(at root: String, chunkSize: Int = defaultChunkSize) throws(StoreError) -> ContentStore {
        guard allowedChunkSizes.contains(chunkSize) else {
            throw .invalidArgument(field: "--chunk-size", message: "\(chunkSize) is not a power of two between 4 KiB and 2 MiB")
        }
        let layout = StoreLayout(root: FileSystem.absolute(root))
        if FileSystem.exists(layout.catalogPath) { throw .storeExists(path: root) }
        // Private to the owner, whatever the umask: guest memory and disks live here. A
        // directory the user made beforehand keeps its mode; everything inside is private.
        let rootExisted = FileSystem.isDirectory(layout.root)
        try StoreError.wrap { () throws(IOError) in
            try FileSystem.createDirectory(layout.root, permissions: StoreLayout.directoryMode)
            if !rootExisted { try Self.setMode(StoreLayout.directoryMode, of: layout.root) }
            for dir in [layout.packsDirectory, layout.manifestsDirectory, layout.temporaryDirectory, layout.keysDirectory] {
                try FileSystem.createDirectory(dir, permissions: StoreLayout.directoryMode)
                try Self.setMode(StoreLayout.directoryMode, of: dir)
            }
            // SQLite keeps an existing file's mode and gives its -wal and -shm files the same.
            for file in [layout.catalogPath, layout.lockPath] {
                let fd = try FileDescriptor.open(file, .createExclusive, permissions: StoreLayout.fileMode)
                fd.close()
                try Self.setMode(StoreLayout.fileMode, of: file)
            }
        }
        let key = try StoreKey.create(layout)
        try StoreError.wrap { () throws(IOError) in try Self.setMode(StoreLayout.fileMode, of: layout.keyPath) }
        let catalog = try Catalog.create(at: layout.catalogPath, chunkSize: chunkSize)
        try catalog.write { db in
            try db.execute(sql: "INSERT INTO store_meta(key, value) VALUES ('public_key', ?)", arguments: [key.publicKeyHex])
        }
        return ContentStore(layout: layout, catalog: catalog, chunkSize: chunkSize)
    }

    /// Opens an existing store; refuses a missing one or one written by a newer stasis.
    public static func open(at root: String) throws(StoreError) -> ContentStore {
        let layout = StoreLayout(root: FileSystem.absolute(root))
        guard FileSystem.exists(layout.catalogPath) else { throw .storeNotFound(path: root) }
        let catalog = try Catalog.open(at: layout.catalogPath, storeRoot: root)
        guard let raw = try catalog.meta("chunk_size"), let chunkSize = Int(raw), allowedChunkSizes.contains(chunkSize) else {
            throw .catalog(path: layout.catalogPath, message: "store_meta has no valid chunk_size; the catalog is damaged")
        }
        try StoreError.wrap { () throws(IOError) in try FileSystem.createDirectory(layout.temporaryDirectory) }
        return ContentStore(layout: layout, catalog: catalog, chunkSize: chunkSize)
    }

    /// Sets a mode exactly (chmod is not filtered by the umask, unlike mkdir and open).
    static func setMode(_ mode: mode_t, of path: String) throws(IOError) {
        guard chmod(path, mode) == 0 else { throw IOError(FileSystem.isDirectory(path) ? .mkdir : .open, path: path, errno: .current) }
    }

    var manifestFiles: ManifestFiles { ManifestFiles(layout: layout) }

    /// Loads the chunk index: the catalog lists the packs, each pack file holds its entry table.
    func loadIndex() throws(StoreError) -> ChunkIndex {
        var tables: [(packID: String, entries: [UInt8])] = []
        for pack in try catalog.packs() {
            tables.append((pack.id, try PackIndex.readTable(packID: pack.id, path: layout.packPath(for: pack.id)).table))
        }
        return ChunkIndex(encoded: tables)
    }

    /// Every listed pack's decoded entry table (gc, stats).
    func packIndexes() throws(StoreError) -> [PackIndex] {
        var result: [PackIndex] = []
        for pack in try catalog.packs() {
            result.append(try PackIndex.read(packID: pack.id, path: layout.packPath(for: pack.id)))
        }
        return result
    }

    /// Runs `body` holding the store lock: shared for captures and readers, exclusive for gc.
    func withLock<T>(_ kind: FileLock.Kind, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        let lock = try StoreError.wrap { () throws(IOError) in try FileLock(path: layout.lockPath, kind: kind) }
        defer { lock.unlock() }
        return try body()
    }

    /// An image's manifest, checked against its id.
    public func manifest(of imageID: String) throws(StoreError) -> ImageManifest {
        guard try catalog.image(imageID) != nil else { throw .imageNotFound(id: imageID) }
        let bytes = try manifestFiles.read(imageID)
        guard ImageManifest.id(ofEncoded: bytes) == imageID else {
            throw .corruptManifest(id: imageID, reason: "its bytes do not hash to its id")
        }
        return try ImageManifest.decode(bytes, id: imageID)
    }

    /// Removes an image from the catalog; its chunks are reclaimed by the next `gc`. An image a
    /// checkpoint holds is refused: remove the checkpoint instead.
    public func removeImage(_ idOrPrefix: String) throws(StoreError) -> String {
        let id = try catalog.resolveImage(idOrPrefix)
        if let holder = try catalog.checkpointHolding(id) { throw .heldByCheckpoint(target: id, checkpoint: holder) }
        CrashPoint.hit("rm.before-commit")
        _ = try catalog.deleteImage(id)
        return id
    }
}
