import Synchronization
import StasisIO

/// Open read-only descriptors of pack files, shared by reader threads (pread needs no seek
/// position, so one descriptor per pack serves all of them). Closes everything on `close()`.
final class PackFiles: Sendable {
    private let layout: StoreLayout
    private let open = Mutex<[String: FileDescriptor]>([:])

    init(layout: StoreLayout) { self.layout = layout }

    func descriptor(for packID: String) throws(StoreError) -> FileDescriptor {
        if let fd = open.withLock({ $0[packID] }) { return fd }
        let path = layout.packPath(for: packID)
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, .readOnly) } catch {
            if error.errno == .noEntry { throw .missingPack(pack: packID) }
            throw .io(error)
        }
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
