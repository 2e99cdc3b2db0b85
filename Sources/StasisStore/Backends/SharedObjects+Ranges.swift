import StasisIO
import StasisObjectStorage

extension SharedObjects {
    /// Packs partly downloaded for one reader: only some spans of each, with ranged GETs.
    struct PartialPacks: Sendable {
        /// Pack id → a private sparse file in the store's `tmp/` holding the spans at their own
        /// offsets, so that a reader `pread`s it exactly as it would the pack.
        var files: [String: String] = [:]

        /// Removes the files (they are never a cache: a partial pack must not take a pack's name).
        func remove() {
            for path in files.values { try? FileSystem.remove(path) }
        }
    }

    /// Downloads the given spans of the given packs, `parallelTransfers` requests at a time. On
    /// failure nothing is left behind. The bytes are not trusted: readers authenticate and
    /// decode each frame and re-hash each chunk, as they do with a cached pack.
    func fetchRanges(_ wanted: [(pack: String, ranges: [Range<Int64>])]) throws(StoreError) -> PartialPacks {
        var partial = PartialPacks()
        var descriptors: [String: FileDescriptor] = [:]
        defer { for fd in descriptors.values { fd.close() } }
        struct Request: Sendable { var pack: String; var range: Range<Int64>; var file: FileDescriptor }
        var requests: [Request] = []
        do throws(StoreError) {
            for (pack, ranges) in wanted where !ranges.isEmpty {
                let path = layout.temporaryDirectory + "/" + pack + ".pack.ranges-" + PackWriter.newPackID().prefix(8)
                let fd = try StoreError.wrap { () throws(IOError) in try FileDescriptor.open(path, .createExclusive, permissions: 0o600) }
                partial.files[pack] = path
                descriptors[pack] = fd
                requests += ranges.map { Request(pack: pack, range: $0, file: fd) }
            }
            let storage = self.storage, all = requests
            try BlockingAsync.run { () async throws(StoreError) in
                try await Self.forEach(all, limit: Self.parallelTransfers) { (request) async throws(StoreError) in
                    let bytes: [UInt8]
                    do throws(ObjectStorageError) { bytes = try await storage.get(.pack(id: request.pack), range: request.range) } catch {
                        if case .notFound = error { throw .missingPack(pack: request.pack) }
                        throw .objects(error)
                    }
                    try StoreError.wrap { () throws(IOError) in
                        try bytes.withRawBytes { (raw) throws(IOError) in try request.file.write(raw, at: request.range.lowerBound) }
                    }
                }
            }
        } catch {
            partial.remove()
            throw error
        }
        return partial
    }
}
