extension ContentStore {
    /// Every chunk some image or blob references, with the images that reference each (for
    /// damage reports). Reads manifests one at a time.
    func referencedChunks() throws(StoreError) -> Set<ChunkID> {
        var set = Set<ChunkID>()
        do {
            try catalog.forEachManifest { id, bytes in
                let manifest = try ImageManifest.decode(bytes, id: id)
                for case let c? in manifest.chunks { set.insert(c) }
            }
            try catalog.forEachBlobManifest { id, bytes in
                for entry in try BlobManifest.decode(bytes, id: id).entries { set.insert(entry.id) }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .catalog(path: catalog.path, message: "\(error)")
        }
        return set
    }

    /// The images that reference any of `chunks`.
    func images(referencing chunks: Set<ChunkID>) throws(StoreError) -> [ChunkID: [String]] {
        guard !chunks.isEmpty else { return [:] }
        var result: [ChunkID: [String]] = [:]
        do {
            try catalog.forEachManifest { id, bytes in
                guard let manifest = try? ImageManifest.decode(bytes, id: id) else { return }
                for case let c? in manifest.chunks where chunks.contains(c) {
                    if result[c]?.last != id { result[c, default: []].append(id) }
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .catalog(path: catalog.path, message: "\(error)")
        }
        return result
    }
}
