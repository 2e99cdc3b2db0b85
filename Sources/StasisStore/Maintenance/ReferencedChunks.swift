extension ContentStore {
    /// Every chunk some image or blob references. Any unreadable manifest is an error: gc must
    /// never decide what is garbage from a partial picture.
    func referencedChunks() throws(StoreError) -> Set<ChunkID> {
        var set = Set<ChunkID>()
        for id in try catalog.imageIDs() {
            let chunks: [ChunkID?]
            do throws(StoreError) { chunks = try manifest(of: id).chunks } catch {
                // Removed since the listing (another process, or another host): its chunks are
                // no longer referenced by it.
                if case .imageNotFound = error { continue }
                throw error
            }
            for case let c? in chunks { set.insert(c) }
        }
        do {
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
}
