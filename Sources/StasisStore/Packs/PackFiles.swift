import Synchronization
import StasisIO

/// Open read-only descriptors of pack files, shared by reader threads (pread needs no seek
/// position, so one descriptor per pack serves all of them). Closes everything on `close()`.
/// In a fleet store a pack missing here is fetched from object storage into the cache first.
final class PackFiles: Sendable {
    private let layout: StoreLayout
    private let objects: SharedObjects?
    /// Packs read from a partial download instead (only the spans this reader needs).
    private let partial: [String: String]
    private let open = Mutex<[String: FileDescriptor]>([:])

    init(layout: StoreLayout, objects: SharedObjects?, partial: SharedObjects.PartialPacks = .init()) {
        self.layout = layout
        self.objects = objects
        self.partial = partial.files
    }

    func descriptor(for packID: String) throws(StoreError) -> FileDescriptor {
        if let fd = open.withLock({ $0[packID] }) { return fd }
        let path = partial[packID] ?? layout.packPath(for: packID)
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, .readOnly) } catch {
            guard error.errno == .noEntry else { throw .io(error) }
            guard let objects else { throw .missingPack(pack: packID) }
            try objects.fetch(pack: packID)
            fd = try StoreError.wrap { () throws(IOError) in try FileDescriptor.open(path, .readOnly) }
        }
        // Its last use, for the cache's eviction order.
        if objects != nil && partial[packID] == nil { SharedObjects.touch(path) }
        return open.withLock { table in
            if let existing = table[packID] { fd.close(); return existing }
            table[packID] = fd
            return fd
        }
    }

    func close() {
        open.withLock { table in
            for fd in table.values { fd.close() }
            table.removeAll()
        }
    }

    deinit { close() }
}
