import StasisIO

/// Image manifests on disk: `manifests/ab/<id>.manifest`, written once (temporary name, fsync,
/// rename) before the catalog row that makes the image exist. Kept out of SQLite because a
/// manifest is megabytes (32 bytes per 4 KiB of data) and SQLite would write it page by page into
/// its WAL and again at checkpoint.
///
/// In a fleet store these files are a cache: a manifest missing here is fetched from object
/// storage (its caller checks it against its id) and kept.
struct ManifestFiles: Sendable {
    let layout: StoreLayout
    var objects: SharedObjects? = nil

    func path(for id: String) -> String {
        layout.manifestsDirectory + "/" + id.prefix(2) + "/" + id + ".manifest"
    }

    /// Makes `bytes` durable under `id`'s name; a manifest already there is identical (same id).
    func write(_ bytes: [UInt8], id: String) throws(StoreError) {
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
                try FileSystem.createDirectory(dir)
                try FileSystem.syncDirectory(containing: dir)
            }
            do throws(IOError) { try FileSystem.renameDurably(tmp, to: final) } catch {
                try? FileSystem.remove(tmp)
                throw error
            }
        }
    }

    func read(_ id: String) throws(StoreError) -> [UInt8] {
        do {
            let fd = try FileDescriptor.open(path(for: id), .readOnly)
            defer { fd.close() }
            return try fd.readAll()
        } catch {
            guard error.errno == .noEntry else { throw .io(error) }
            guard let objects else { throw .corruptManifest(id: id, reason: "its file \(path(for: id)) is missing") }
            let bytes = try objects.fetchManifest(id)
            // Cached only if it is what its name says; else the caller's check names the damage.
            if ImageManifest.id(ofEncoded: bytes) == id { try? write(bytes, id: id) }
            return bytes
        }
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
