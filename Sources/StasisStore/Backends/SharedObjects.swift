import Foundation
import Synchronization
import StasisIO
import StasisObjectStorage

/// A fleet store's objects. Packs and image manifests live in object storage, which every host
/// reads and which is the only copy that counts; the store directory on each host keeps copies of
/// the ones it used, bounded by `cacheBytes` (least recently used go first).
///
/// Rules (Formats/fleet.md):
/// - an object is uploaded, and its upload acknowledged, before any catalog row names it, so a
///   row never names an object that is not durable;
/// - a downloaded pack is checked (header, trailer, the entry table's SHA-256) before it takes
///   its name in the cache, and every chunk read from it is checked against its id as on one host;
///   a downloaded manifest is checked against its id by the caller, as a local one is.
final class SharedObjects: Sendable {
    let storage: any ObjectStorage
    let layout: StoreLayout
    let cacheBytes: Int64
    /// Downloads (and uploads) in flight at once.
    static let parallelTransfers = 8
    /// A cached pack used this recently is never evicted (a capture may be about to upload it, a
    /// reader may be about to open it).
    static let evictionGraceSeconds = 120

    static let defaultCacheBytes: Int64 = 8 << 30

    /// Packs being downloaded in this process: a second reader of one waits for the first.
    private let downloading = Mutex<[String: DispatchGroup]>([:])

    init(storage: any ObjectStorage, layout: StoreLayout, cacheBytes: Int64?) {
        self.storage = storage
        self.layout = layout
        self.cacheBytes = cacheBytes ?? Self.defaultCacheBytes
    }

    var location: String { storage.location }

    /// The object storage a descriptor names. `probe` asks it once (a listing of a prefix that
    /// holds nothing) so that a wrong key or a missing bucket is named now, not at the first pack.
    static func open(_ descriptor: StoreDescriptor, layout: StoreLayout, environment: [String: String], probe: Bool = true) throws(StoreError) -> SharedObjects {
        let storage = try StoreBackends.openObjects(descriptor, environment: environment)
        if probe {
            try BlockingAsync.run { () async throws(StoreError) in
                do throws(ObjectStorageError) { _ = try await storage.list(prefix: "stasis-probe/") } catch { throw .objects(error) }
            }
        }
        return SharedObjects(storage: storage, layout: layout, cacheBytes: descriptor.cacheBytes)
    }

    // MARK: - Uploads (before the catalog commit)

    /// Uploads sealed packs from this host's cache, several at a time; returns when every one is
    /// durable in object storage.
    func upload(packs: [PackWriter.Sealed]) throws(StoreError) {
        let ids = packs.map(\.packID)
        let storage = self.storage, layout = self.layout
        try BlockingAsync.run { () async throws(StoreError) in
            try await Self.forEach(ids, limit: Self.parallelTransfers) { (id) async throws(StoreError) in
                do throws(ObjectStorageError) { try await storage.put(.pack(id: id), contentsOf: layout.packPath(for: id)) } catch { throw .objects(error) }
            }
        }
    }

    func upload(manifest bytes: [UInt8], id: String) throws(StoreError) {
        let storage = self.storage
        try BlockingAsync.run { () async throws(StoreError) in
            do throws(ObjectStorageError) { try await storage.put(.manifest(id: id), bytes: bytes) } catch { throw .objects(error) }
        }
    }

    // MARK: - Downloads (into the cache)

    /// Makes sure each pack is in this host's cache, downloading the missing ones in parallel,
    /// in the order given (the order a restore reads them).
    func prefetch(packs ids: [String]) throws(StoreError) {
        var seen = Set<String>()
        let missing = ids.filter { seen.insert($0).inserted && !FileSystem.exists(layout.packPath(for: $0)) }
        guard !missing.isEmpty else { return }
        let this = self
        try BlockingAsync.run { () async throws(StoreError) in
            try await Self.forEach(missing, limit: Self.parallelTransfers) { (id) async throws(StoreError) in
                try await this.downloadOnce(pack: id, waitIfBusy: false)
            }
        }
        evictIfOverBudget()
    }

    /// A pack object's size in object storage (a HEAD request: nothing is downloaded), or nil
    /// when it is missing.
    func size(ofPack id: String) throws(StoreError) -> Int64? {
        let storage = self.storage
        do {
            return try BlockingAsync.run { () async throws(ObjectStorageError) in try await storage.head(.pack(id: id)) }?.size
        } catch {
            throw .objects(error)
        }
    }

    /// Downloads one pack into the cache (the caller found it missing); waits instead if this
    /// process is downloading it already.
    func fetch(pack id: String) throws(StoreError) {
        let this = self
        try BlockingAsync.run { () async throws(StoreError) in try await this.downloadOnce(pack: id, waitIfBusy: true) }
        evictIfOverBudget()
    }

    /// One download per pack at a time in this process. `waitIfBusy` (readers): wait for the one
    /// in flight, then check the cache; else (the prefetcher) leave it to whoever started it.
    private func downloadOnce(pack id: String, waitIfBusy: Bool) async throws(StoreError) {
        let (group, mine) = downloading.withLock { table -> (DispatchGroup, Bool) in
            if let busy = table[id] { return (busy, false) }
            let group = DispatchGroup()
            group.enter()
            table[id] = group
            return (group, true)
        }
        guard mine else {
            guard waitIfBusy else { return }
            // On BlockingAsync's own threads (never the cooperative pool): blocking is allowed.
            group.wait()
            if !FileSystem.exists(layout.packPath(for: id)) { try await downloadOnce(pack: id, waitIfBusy: true) }
            return
        }
        defer {
            _ = downloading.withLock { $0.removeValue(forKey: id) }
            group.leave()
        }
        try await download(pack: id)
    }

    /// An image manifest's bytes from object storage (the caller checks them against the id and
    /// caches them).
    func fetchManifest(_ id: String) throws(StoreError) -> [UInt8] {
        let storage = self.storage
        do {
            return try BlockingAsync.run { () async throws(ObjectStorageError) in try await storage.get(.manifest(id: id)) }
        } catch {
            if case .notFound = error { throw .corruptManifest(id: id, reason: "its object \(ObjectKey.manifest(id: id).rawValue) is missing from \(storage.location)") }
            throw .objects(error)
        }
    }

    private func download(pack id: String) async throws(StoreError) {
        let final = layout.packPath(for: id)
        if FileSystem.exists(final) { return }
        let bytes: [UInt8]
        do throws(ObjectStorageError) { bytes = try await storage.get(.pack(id: id)) } catch {
            if case .notFound = error { throw .missingPack(pack: id) }
            throw .objects(error)
        }
        // Checked before it takes its name: a damaged pack never enters the cache.
        _ = try PackIndex.readTable(packID: id, size: Int64(bytes.count)) { (offset, count) throws(StoreError) in
            Array(bytes[Int(offset)..<Int(offset) + count])
        }
        let temporary = layout.temporaryDirectory + "/" + id + ".pack.fetch-" + PackWriter.newPackID().prefix(8)
        try StoreError.wrap { () throws(IOError) in
            let directory = layout.packDirectory(for: id)
            if !FileSystem.isDirectory(directory) { try FileSystem.createDirectory(directory, permissions: StoreLayout.directoryMode) }
            do throws(IOError) {
                let fd = try FileDescriptor.open(temporary, .createExclusive, permissions: 0o444)
                defer { fd.close() }
                try bytes.withRawBytes { (raw) throws(IOError) in try fd.write(raw, at: 0) }
                try fd.sync()
            } catch {
                try? FileSystem.remove(temporary)
                throw error
            }
            // Another process may have fetched it meanwhile: the same bytes, so either wins.
            do throws(IOError) { try FileSystem.renameDurably(temporary, to: final) } catch {
                try? FileSystem.remove(temporary)
                throw error
            }
        }
    }

    // MARK: - The cache's budget

    /// Removes the least recently used cached packs until the cache fits its budget. A pack's
    /// modification time is its last use (readers touch it when they open it).
    func evictIfOverBudget() {
        guard let fans = try? FileSystem.list(layout.packsDirectory) else { return }
        var files: [(path: String, size: Int64, used: Int)] = []
        var total: Int64 = 0
        for fan in fans where fan.count == 2 {
            for name in (try? FileSystem.list(layout.packsDirectory + "/" + fan)) ?? [] where name.hasSuffix(".pack") {
                let path = layout.packsDirectory + "/" + fan + "/" + name
                var st = stat()
                guard stat(path, &st) == 0 else { continue }
                files.append((path, Int64(st.st_size), st.st_mtim.tv_sec))
                total += Int64(st.st_size)
            }
        }
        guard total > cacheBytes else { return }
        let recent = Int(time(nil)) - Self.evictionGraceSeconds
        for file in files.sorted(by: { $0.used < $1.used }) where file.used < recent {
            try? FileSystem.remove(file.path)
            total -= file.size
            if total <= cacheBytes { return }
        }
    }

    /// Marks a cached pack as just used.
    static func touch(_ path: String) {
        _ = utimensat(AT_FDCWD, path, nil, 0)
    }

    // MARK: -

    /// Runs `body` for every element, at most `limit` at once; the first error cancels the rest.
    static func forEach<Item: Sendable>(_ items: [Item], limit: Int, _ body: @escaping @Sendable (Item) async throws(StoreError) -> Void) async throws(StoreError) {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                while next < items.count && next < limit {
                    let item = items[next]
                    group.addTask { try await body(item) }
                    next += 1
                }
                while try await group.next() != nil {
                    if next < items.count {
                        let item = items[next]
                        group.addTask { try await body(item) }
                        next += 1
                    }
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .objects(.cancelled(ObjectLocation(storage: "object storage")))
        }
    }
}
