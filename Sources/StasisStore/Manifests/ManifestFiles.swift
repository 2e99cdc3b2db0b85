import StasisIO
import StasisObjectStorage

/// Image manifests on disk: `manifests/ab/<id>.manifest`, written once (temporary name, fsync,
/// rename) before the catalog row that makes the image exist. Kept out of SQLite because a
/// manifest is megabytes (32 bytes per 4 KiB of data) and SQLite would write it page by page into
/// its WAL and again at checkpoint.
///
/// In a fleet store these files are a cache: a manifest missing here is fetched from object
/// storage (its caller checks it against its id) and kept.
///
/// In an encrypted store a manifest is sealed (`SealedObject`) in its file and in object
/// storage alike: it lists the chunk ids of an image, which are hashes of its pages.
struct ManifestFiles: Sendable {
    let layout: StoreLayout
    var objects: SharedObjects? = nil
    var cipher: StoreCipher? = nil

    func path(for id: String) -> String {
        layout.manifestsDirectory + "/" + id.prefix(2) + "/" + id + ".manifest"
    }

    /// The bytes a manifest is kept as: sealed in an encrypted store.
    func stored(_ plain: [UInt8], id: String) -> [UInt8] {
        cipher.map { SealedObject.seal(plain, kind: .imageManifest, name: id, cipher: $0) } ?? plain
    }

    /// Makes manifest `plain` durable under `id`'s name (a manifest already there is the same
    /// image); returns the bytes as stored, for object storage.
    @discardableResult
    func write(_ plain: [UInt8], id: String) throws(StoreError) -> [UInt8] {
        let bytes = stored(plain, id: id)
        try writeStored(bytes, id: id)
        return bytes
    }

    private func writeStored(_ bytes: [UInt8], id: String) throws(StoreError) {
        let final = path(for: id)
        if FileSystem.exists(final) { return }
        let tmp = layout.temporaryDirectory + "/" + id + "." + PackWriter.newPackID().prefix(8) + ".manifest.tmp"
        try StoreError.wrap { () throws(IOError) in
            let fd = try FileDescriptor.open(tmp, .createExclusive, permissions: 0o444)
            do throws(IOError) {
                try bytes.withRawBytes { (raw) throws(IOError) in try fd.write(raw, at: 0) }
                try fd.sync()
                fd.close()
            } catch {
                fd.close()
                try? FileSystem.remove(tmp)
                throw error
            }
            let dir = FileSystem.parent(of: final)
            if !FileSystem.isDirectory(dir) {
                try FileSystem.createDirectory(dir, permissions: StoreLayout.directoryMode)
                try FileSystem.syncDirectory(containing: dir)
            }
            do throws(IOError) { try FileSystem.renameDurably(tmp, to: final) } catch {
                try? FileSystem.remove(tmp)
                throw error
            }
        }
    }

    /// A manifest's plain bytes (opened, in an encrypted store). The caller checks them against
    /// the id.
    func read(_ id: String) throws(StoreError) -> [UInt8] {
        let stored: [UInt8]
        do {
            let fd = try FileDescriptor.open(path(for: id), .readOnly)
            defer { fd.close() }
            stored = try fd.readAll()
        } catch {
            guard error.errno == .noEntry else { throw .io(error) }
            guard let objects else { throw .corruptManifest(id: id, reason: "its file \(path(for: id)) is missing") }
            let bytes = try objects.fetchManifest(id)
            let opened = try plain(bytes, id: id, location: "object \(ObjectKey.manifest(id: id).rawValue)")
            // Cached only if it is what its name says; else the caller's check names the damage.
            if ImageManifest.id(ofEncoded: opened) == id { try? writeStored(bytes, id: id) }
            return opened
        }
        return try plain(stored, id: id, location: path(for: id))
    }

    private func plain(_ stored: [UInt8], id: String, location: String) throws(StoreError) -> [UInt8] {
        if let cipher {
            return try SealedObject.open(stored, kind: .imageManifest, name: id, cipher: cipher, subject: "manifest of image \(id) (\(location))")
        }
        guard !SealedObject.isSealed(stored) else {
            throw .encryption(subject: "manifest of image \(id) (\(location))", message: "it is sealed, but this store has no encryption keys: it comes from an encrypted store")
        }
        return stored
    }

    /// Every manifest file's id (for gc's leftover sweep).
    func allIDs() throws(StoreError) -> [String] {
        try StoreError.wrap { () throws(IOError) in
            var ids: [String] = []
            for fan in try FileSystem.list(layout.manifestsDirectory) where fan.count == 2 {
                for name in try FileSystem.list(layout.manifestsDirectory + "/" + fan) where name.hasSuffix(".manifest") {
                    ids.append(String(name.dropLast(9)))
                }
            }
            return ids
        }
    }
}
