import StasisIO

/// What `repair --reindex` did.
public struct ReindexReport: Sendable, Codable {
    public var packsIndexed: Int
    public var chunksIndexed: Int
    /// Packs whose files could not be read as packs, moved aside to `packs/quarantine/`.
    public var packsQuarantined: [String]
    /// Catalog packs with no file (dropped from the index).
    public var packsMissing: [String]
    /// Images that name a chunk no pack holds, after the rebuild.
    public var imagesMissingChunks: [String]
}

extension ContentStore {
    /// Rebuilds the catalog's pack list from the pack files alone: every file under `packs/`
    /// whose trailer and entry table check out is listed; others are moved to `packs/quarantine/`.
    /// Runs with the store locked exclusively.
    public func reindex() throws(StoreError) -> ReindexReport {
        if objects != nil { throw .unsupportedOnFleetStore(operation: "repair --reindex", reason: "this host's packs directory is only a cache of the shared objects; nothing was changed") }
        return try withLock(.exclusive) { () throws(StoreError) -> ReindexReport in
            let before = Set(try catalog.packs().map(\.id))
            var found: [PackWriter.Sealed] = []
            var indexes: [PackIndex] = []
            var quarantined: [String] = []
            var unreadable: [(path: String, name: String)] = []
            let quarantine = layout.packsDirectory + "/quarantine"
            let fans = try StoreError.wrap { () throws(IOError) in try FileSystem.list(layout.packsDirectory) }
            for fan in fans where fan.count == 2 {
                let names = try StoreError.wrap { () throws(IOError) in try FileSystem.list(layout.packsDirectory + "/" + fan) }
                for name in names where name.hasSuffix(".pack") {
                    let id = String(name.dropLast(5))
                    let path = layout.packsDirectory + "/" + fan + "/" + name
                    do throws(StoreError) {
                        let index = try PackIndex.read(packID: id, path: path, cipher: cipher)
                        let size = try StoreError.wrap { () throws(IOError) in try FileSystem.fileSize(path) }
                        found.append(PackWriter.Sealed(index: index, size: size))
                        indexes.append(index)
                    } catch {
                        // A pack from a newer stasis is not damage: stop before changing anything.
                        if case .newerPack = error { throw error }
                        unreadable.append((path, name))
                        quarantined.append(id)
                    }
                }
            }
            for (path, name) in unreadable {
                try StoreError.wrap { () throws(IOError) in
                    try FileSystem.createDirectory(quarantine, permissions: StoreLayout.directoryMode)
                    try FileSystem.renameDurably(path, to: quarantine + "/" + name)
                }
            }
            try catalog.resetPacks(to: found)
            let index = ChunkIndex(packs: indexes)
            var broken: [String] = []
            for image in try catalog.images() {
                guard let manifest = try? manifest(of: image.id) else { broken.append(image.id); continue }
                if manifest.chunks.contains(where: { $0 != nil && index.location(of: $0!) == nil }) { broken.append(image.id) }
            }
            let foundIDs = Set(found.map(\.packID))
            return ReindexReport(
                packsIndexed: found.count, chunksIndexed: index.count, packsQuarantined: quarantined.sorted(),
                packsMissing: before.subtracting(foundIDs).subtracting(quarantined).sorted(), imagesMissingChunks: broken)
        }
    }
}
