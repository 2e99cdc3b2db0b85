import StasisObjectStorage

extension ContentStore {
    /// Runs a writer (capture, blob put): this host's store lock shared (its gc waits), and in a
    /// fleet store a lease in the shared catalog (every host's gc respects it). `body` gets the
    /// chunk index it may deduplicate against — in a fleet store without the packs a gc has
    /// condemned, which may go once the writers older than them are done.
    func withWriter<T>(kind: String, _ body: (ChunkIndex, WriterLease?) throws(StoreError) -> T) throws(StoreError) -> T {
        try withLock(.shared) { () throws(StoreError) -> T in
            let lease = objects == nil ? nil : try catalog.beginWriter(kind: kind)
            do throws(StoreError) {
                return try body(try loadIndex(excluding: lease == nil ? [] : try catalog.condemnedPacks()), lease)
            } catch {
                if let lease { catalog.abandonWriter(lease) }
                throw error
            }
        }
    }

    /// Makes a writer's new objects durable in a fleet store's object storage (nothing on one
    /// host, where they are durable files already): first registered under the lease, so that
    /// gc leaves them alone until the commit names them, then uploaded.
    func publish(packs: [PackWriter.Sealed], manifest: (bytes: [UInt8], id: String)?, lease: WriterLease?) throws(StoreError) {
        guard let objects, let lease else { return }
        var keys = packs.map { ObjectKey.pack(id: $0.packID).rawValue }
        if let manifest { keys.append(ObjectKey.manifest(id: manifest.id).rawValue) }
        try catalog.registerUploads(keys, lease: lease)
        try objects.upload(packs: packs)
        if let manifest { try objects.upload(manifest: manifest.bytes, id: manifest.id) }
    }
}
