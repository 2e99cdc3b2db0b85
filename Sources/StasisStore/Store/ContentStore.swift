import Foundation
import StasisCatalog
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
    /// A fleet store's object storage (this directory is then its cache); nil on one host.
    let objects: SharedObjects?
    /// What this host's directory says about shared backends (nil on one host).
    public let descriptor: StoreDescriptor?
    /// The data keys packs and manifests are sealed with (nil in a store made without
    /// encryption).
    let cipher: StoreCipher?

    /// What new frames are compressed with (`store_meta.compression`; LZ4 when absent).
    public let compression: FrameCompression

    /// Whether packs and manifests are encrypted at rest.
    public var isEncrypted: Bool { cipher != nil }

    public static let defaultChunkSize = 4096
    public static let allowedChunkSizes = (12...21).map { 1 << $0 }   // 4 KiB … 2 MiB

    private init(layout: StoreLayout, catalog: Catalog, chunkSize: Int, objects: SharedObjects?, descriptor: StoreDescriptor?, cipher: StoreCipher?,
                 compression: FrameCompression) {
        self.layout = layout
        self.catalog = catalog
        self.chunkSize = chunkSize
        self.objects = objects
        self.descriptor = descriptor
        self.cipher = cipher
        self.compression = compression
    }

    /// Where this store's objects are: this directory, or the shared object storage.
    public var objectsLocation: String { objects?.location ?? layout.root }

    /// Creates a new, empty store at `root` (the directory may exist but must hold no store).
    /// With a PostgreSQL catalog, the directory holds this host's descriptor, key and cache, and
    /// the catalog (its database or schema) must hold no store yet.
    ///
    /// `encrypted` (the default) seals packs and manifests with AES-256-GCM under data keys that
    /// a master key wraps: `STASIS_MASTER_KEY` from `environment`, or a new `keys/master.key`.
    /// `compression` is what new frames are compressed with, for the store's life.
    public static func create(at root: String, chunkSize: Int = defaultChunkSize, backends: StoreBackends = .embedded,
                              encrypted: Bool = true, compression: FrameCompression = .default,
                              environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) -> ContentStore {
        guard allowedChunkSizes.contains(chunkSize) else {
            throw .invalidArgument(field: "--chunk-size", message: "\(chunkSize) is not a power of two between 4 KiB and 2 MiB")
        }
        let layout = StoreLayout(root: FileSystem.absolute(root))
        if FileSystem.exists(layout.catalogPath) || FileSystem.exists(layout.descriptorPath) { throw .storeExists(path: root) }
        let descriptor = backends.descriptor
        var created = try createDirectories(layout, embeddedCatalog: descriptor == nil)
        do throws(StoreError) {
            let database: any CatalogDatabase
            var objects: SharedObjects?
            switch backends {
            case .embedded:
                database = try StoreBackends.openCatalog(layout, descriptor: nil, environment: [:])
            case .shared(let configuration, _, _, _):
                // The objects first: a wrong key or a missing bucket is named before the catalog
                // is touched.
                objects = try SharedObjects.open(descriptor!, layout: layout, environment: environment)
                let postgres: PostgresCatalog
                do {
                    postgres = try PostgresCatalog(configuration)
                    try postgres.createSchemaIfMissing()
                } catch { throw Catalog.storeError(error, location: configuration.description) }
                database = postgres
            }
            let key = try StoreKey.create(layout)
            try StoreError.wrap { () throws(IOError) in try Self.setMode(StoreLayout.fileMode, of: layout.keyPath) }
            let catalog = try Catalog.create(in: database, chunkSize: chunkSize, publicKey: key.publicKeyHex, compression: compression)
            let cipher = encrypted ? try enableEncryption(catalog, layout: layout, environment: environment, created: &created) : nil
            // Written last: a directory with a descriptor is a store.
            try descriptor?.write(layout)
            return ContentStore(layout: layout, catalog: catalog, chunkSize: chunkSize, objects: objects, descriptor: descriptor, cipher: cipher,
                                compression: compression)
        } catch {
            created.undo()
            throw error
        }
    }

    /// What `create` made, so that a failed create leaves the directory as it found it.
    struct CreatedPaths {
        var files: [String] = []
        var directories: [String] = []

        func undo() {
            for file in files { try? FileSystem.remove(file) }
            for suffix in ["-wal", "-shm"] { for file in files { try? FileSystem.remove(file + suffix) } }
            for directory in directories.reversed() { FileSystem.removeDirectory(directory) }
        }
    }

    static func createDirectories(_ layout: StoreLayout, embeddedCatalog: Bool) throws(StoreError) -> CreatedPaths {
        var created = CreatedPaths()
        // Private to the owner, whatever the umask: guest memory and disks live here. A
        // directory the user made beforehand keeps its mode; everything inside is private.
        let rootExisted = FileSystem.isDirectory(layout.root)
        do throws(IOError) {
            try FileSystem.createDirectory(layout.root, permissions: StoreLayout.directoryMode)
            if !rootExisted {
                created.directories.append(layout.root)
                try Self.setMode(StoreLayout.directoryMode, of: layout.root)
            }
            for dir in [layout.packsDirectory, layout.manifestsDirectory, layout.temporaryDirectory, layout.keysDirectory] {
                let existed = FileSystem.isDirectory(dir)
                try FileSystem.createDirectory(dir, permissions: StoreLayout.directoryMode)
                if !existed { created.directories.append(dir) }
                try Self.setMode(StoreLayout.directoryMode, of: dir)
            }
            // SQLite keeps an existing file's mode and gives its -wal and -shm files the same.
            for file in (embeddedCatalog ? [layout.catalogPath] : []) + [layout.lockPath] {
                let fd = try FileDescriptor.open(file, .createExclusive, permissions: StoreLayout.fileMode)
                fd.close()
                created.files.append(file)
                try Self.setMode(StoreLayout.fileMode, of: file)
            }
            created.files.append(layout.keyPath)
        } catch {
            created.undo()
            throw .io(error)
        }
        return created
    }

    /// Opens an existing store; refuses a missing one or one written by a newer stasis.
    /// `environment` supplies what a fleet store's descriptor leaves out (`PGPASSWORD`, …).
    public static func open(at root: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) -> ContentStore {
        let layout = StoreLayout(root: FileSystem.absolute(root))
        let descriptor = try StoreDescriptor.read(layout)
        guard descriptor != nil || FileSystem.exists(layout.catalogPath) else { throw .storeNotFound(path: root) }
        let objects = try descriptor.map { (d) throws(StoreError) in try SharedObjects.open(d, layout: layout, environment: environment, probe: false) }
        let database = try StoreBackends.openCatalog(layout, descriptor: descriptor, environment: environment)
        let catalog = try Catalog.open(database, storeRoot: root)
        guard let raw = try catalog.meta("chunk_size"), let chunkSize = Int(raw), allowedChunkSizes.contains(chunkSize) else {
            throw .catalog(path: catalog.location, message: "store_meta has no valid chunk_size; the catalog is damaged")
        }
        try StoreError.wrap { () throws(IOError) in try FileSystem.createDirectory(layout.temporaryDirectory, permissions: StoreLayout.directoryMode) }
        let cipher = try loadCipher(catalog, layout: layout, environment: environment)
        var compression = FrameCompression.default
        if let raw = try catalog.meta("compression") {
            guard let parsed = FrameCompression(raw) else {
                throw .catalog(path: catalog.location, message: "store_meta.compression is \"\(raw)\", which this stasis does not know; upgrade stasis")
            }
            compression = parsed
        }
        return ContentStore(layout: layout, catalog: catalog, chunkSize: chunkSize, objects: objects, descriptor: descriptor, cipher: cipher,
                            compression: compression)
    }

    /// Sets a mode exactly (chmod is not filtered by the umask, unlike mkdir and open).
    static func setMode(_ mode: mode_t, of path: String) throws(IOError) {
        guard chmod(path, mode) == 0 else { throw IOError(FileSystem.isDirectory(path) ? .mkdir : .open, path: path, errno: .current) }
    }

    /// A pack writer with this store's keys and compression.
    func newPackWriter(targetSize: Int = PackFormat.defaultTargetSize) -> PackWriter {
        PackWriter(layout: layout, cipher: cipher, compression: compression, targetSize: targetSize)
    }

    var manifestFiles: ManifestFiles { ManifestFiles(layout: layout, objects: objects, cipher: cipher) }

    /// Loads the chunk index: the catalog lists the packs; each pack's table comes from its
    /// catalog row where a shared catalog keeps it, else from the end of its pack file.
    func loadIndex(excluding excluded: Set<String> = []) throws(StoreError) -> ChunkIndex {
        ChunkIndex(packs: try packIndexes(excluding: excluded))
    }

    /// Every listed pack's decoded table (gc, stats).
    func packIndexes(excluding excluded: Set<String> = []) throws(StoreError) -> [PackIndex] {
        var result: [PackIndex] = []
        for pack in try catalog.packTables() where !excluded.contains(pack.id) {
            if let table = pack.table {
                // Checked as a pack file's table is: frames that end exactly where the table
                // starts in a pack of the listed size.
                let header = try pack.header.map { (bytes) throws(StoreError) in try PackFormat.Header.parse(bytes, pack: pack.id) } ?? .v1
                let tableOffset = pack.size - Int64(table.count) - Int64(PackFormat.trailerSize)
                result.append(try PackIndex.decode(packID: pack.id, header: header, storedTable: table, tableOffset: tableOffset, cipher: cipher))
            } else {
                result.append(try PackIndex.read(packID: pack.id, path: try cachedPackPath(pack.id), cipher: cipher))
            }
        }
        return result
    }

    /// The path of a pack in this host's directory, fetched from object storage first in a fleet
    /// store where it is not cached.
    func cachedPackPath(_ id: String) throws(StoreError) -> String {
        let path = layout.packPath(for: id)
        if let objects, !FileSystem.exists(path) { try objects.fetch(pack: id) }
        return path
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
