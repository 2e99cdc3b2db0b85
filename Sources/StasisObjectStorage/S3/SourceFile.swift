import StasisIO

/// A file being uploaded: opened once, read by range (pread), closed by the caller.
struct SourceFile {
    let fd: FileDescriptor
    let size: Int64
    let storage: String

    init(path: String, storage: String) throws(ObjectStorageError) {
        do {
            fd = try FileDescriptor.open(path, .readOnly)
            do { size = try fd.size() } catch { fd.close(); throw error }
        } catch {
            throw .io(ObjectLocation(storage: storage, key: path), cause: error)
        }
        self.storage = storage
    }

    func read(_ range: Range<Int64>) throws(ObjectStorageError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Int(range.count))
        do {
            try bytes.withMutableRawBytes { (raw) throws(IOError) in try fd.readExactly(into: raw, at: range.lowerBound) }
        } catch {
            throw .io(ObjectLocation(storage: storage, key: fd.path), cause: error)
        }
        return bytes
    }

    func close() { fd.close() }
}
