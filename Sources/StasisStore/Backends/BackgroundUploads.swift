import Foundation
import Synchronization
import StasisIO
import StasisObjectStorage

/// A fleet capture's pack uploads, started as each pack is written instead of after the last:
/// uploading a gigabyte took as long again as capturing it when it followed the capture.
///
/// The protocol of `publish` holds for each pack: its key is registered under the writer's lease
/// before its upload starts, and the catalog commit that names it waits for `finish`. A pack is
/// uploaded from a hard link of its own in `tmp/`, so that the capture may rename (or abandon)
/// the file meanwhile.
final class BackgroundUploads: Sendable {
    private let objects: SharedObjects
    private let catalog: Catalog
    private let lease: WriterLease
    private let group = DispatchGroup()
    private let queue: OperationQueue
    private let state = Mutex<(uploaded: Set<String>, failure: StoreError?, cancelled: Bool)>(([], nil, false))

    /// Packs uploading at once (each reads its file; the bytes in flight stay bounded).
    static let parallelUploads = 4

    init(objects: SharedObjects, catalog: Catalog, lease: WriterLease) {
        self.objects = objects
        self.catalog = catalog
        self.lease = lease
        queue = OperationQueue()
        queue.maxConcurrentOperationCount = Self.parallelUploads
        queue.name = "stasis.pack-uploads"
    }

    /// Starts uploading pack `packID`, whose every byte is in `path`.
    func start(packID: String, path: String) {
        guard state.withLock({ $0.failure == nil && !$0.cancelled }) else { return }
        let link = objects.layout.temporaryDirectory + "/" + packID + ".pack.upload"
        do throws(IOError) { try FileSystem.link(path, to: link) } catch {
            fail(.io(error))
            return
        }
        group.enter()
        queue.addOperation { [self] in
            defer {
                try? FileSystem.remove(link)
                group.leave()
            }
            guard state.withLock({ $0.failure == nil && !$0.cancelled }) else { return }
            do throws(StoreError) {
                try catalog.registerUploads([ObjectKey.pack(id: packID).rawValue], lease: lease)
                let storage = objects.storage
                try BlockingAsync.run { () async throws(StoreError) in
                    do throws(ObjectStorageError) { try await storage.put(.pack(id: packID), contentsOf: link) } catch { throw .objects(error) }
                }
                _ = state.withLock { $0.uploaded.insert(packID) }
            } catch {
                fail(error)
            }
        }
    }

    /// Waits for every upload started; returns the packs now durable in object storage, or
    /// throws the first failure.
    func finish() throws(StoreError) -> Set<String> {
        group.wait()
        let (uploaded, failure) = state.withLock { ($0.uploaded, $0.failure) }
        if let failure { throw failure }
        return uploaded
    }

    /// Lets no more uploads start and waits for those running (the capture failed: nothing it
    /// uploaded will be named; gc sweeps those objects once the lease is gone).
    func cancel() {
        state.withLock { $0.cancelled = true }
        group.wait()
    }

    private func fail(_ error: StoreError) {
        state.withLock { if $0.failure == nil { $0.failure = error } }
    }
}
