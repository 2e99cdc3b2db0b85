import Crypto
import StasisIO

/// Objects as files under a directory, in the local store's layout: key `packs/ab/<id>.pack` is
/// the file `ROOT/packs/ab/<id>.pack`. A put writes a temporary file in `ROOT/tmp/` (the same
/// file system, so the rename is atomic), fsyncs it, renames it into place and fsyncs the
/// directory: after `put` returns the object survives a crash, and before that nobody sees a
/// partial file under its name. Files are 0600 and directories 0700 — objects are private to the
/// store's owner. `tmp/` is never listed; leftovers there are the store's gc's to remove.
///
/// The calls block on the file system; they are `async` to fit `ObjectStorage`, and run on the
/// caller's task.
public struct LocalDirectoryObjectStorage: ObjectStorage {
    public let root: String
    public let temporaryDirectory: String

    /// The size of the reads and writes that copy a file in (and of the buffer they need).
    static let copyBlock = 1 << 20

    public init(root: String, temporaryDirectory: String? = nil) {
        self.root = root
        self.temporaryDirectory = temporaryDirectory ?? root + "/tmp"
    }

    public var location: String { root }

    public func path(for key: ObjectKey) -> String { root + "/" + key.rawValue }

    // MARK: - Writing

    public func put(_ key: ObjectKey, bytes: [UInt8], sha256: ObjectDigest?) async throws(ObjectStorageError) {
        let actual = ObjectDigest.of(bytes)
        if let sha256, sha256 != actual {
            throw .checksumMismatch(where_(key), expected: sha256, actual: actual)
        }
        try install(key) { (fd) throws(IOError) in
            try bytes.withRawBytes { (raw) throws(IOError) in try fd.write(raw, at: 0) }
        }
    }

    public func put(_ key: ObjectKey, contentsOf path: String, sha256: ObjectDigest?) async throws(ObjectStorageError) {
        let source: FileDescriptor
        do { source = try FileDescriptor.open(path, .readOnly) } catch {
            throw .io(ObjectLocation(storage: root, key: path), cause: error)
        }
        defer { source.close() }
        var actual: ObjectDigest?
        try install(key) { (fd) throws(IOError) in
            var hasher = SHA256()
            var buffer = [UInt8](repeating: 0, count: Self.copyBlock)
            var offset: Int64 = 0
            while true {
                let n = try buffer.withMutableRawBytes { (raw) throws(IOError) in try source.read(into: raw, at: offset) }
                if n == 0 { break }
                try buffer.withRawBytes { (raw) throws(IOError) in
                    let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                    hasher.update(bufferPointer: chunk)
                    try fd.write(chunk, at: offset)
                }
                offset += Int64(n)
            }
            actual = ObjectDigest(hasher.finalize())
        } verify: { () throws(ObjectStorageError) in
            // Checked after the copy (one read of the source) and before the rename: a source that
            // does not match never becomes visible.
            if let sha256, let actual, sha256 != actual {
                throw .checksumMismatch(where_(key), expected: sha256, actual: actual)
            }
        }
    }

    /// Writes a temporary file with `write`, fsyncs it, runs `verify`, renames it to the key's
    /// path and fsyncs the directory. Removes the temporary file on any failure.
    private func install(
        _ key: ObjectKey,
        write: (FileDescriptor) throws(IOError) -> Void,
        verify: () throws(ObjectStorageError) -> Void = {}
    ) throws(ObjectStorageError) {
        let final = path(for: key)
        let tmp = temporaryDirectory + "/" + Self.temporaryName(for: key)
        do {
            try makeDirectory(temporaryDirectory)
            let fd = try FileDescriptor.open(tmp, .createExclusive, permissions: 0o600)
            do {
                try write(fd)
                try fd.sync()
                fd.close()
            } catch {
                fd.close()
                throw error
            }
        } catch {
            try? FileSystem.remove(tmp)
            throw .io(where_(key), cause: error)
        }
        do { try verify() } catch {
            try? FileSystem.remove(tmp)
            throw error
        }
        do {
            try makeDirectory(FileSystem.parent(of: final))
            try FileSystem.renameDurably(tmp, to: final)
        } catch {
            try? FileSystem.remove(tmp)
            throw .io(where_(key), cause: error)
        }
    }

    /// Creates `dir` and its missing parents (0700), fsyncing each new directory's parent so
    /// that the new entries survive a crash along with the file renamed into them.
    private func makeDirectory(_ dir: String) throws(IOError) {
        if FileSystem.isDirectory(dir) { return }
        let parent = FileSystem.parent(of: dir)
        if parent != dir { try makeDirectory(parent) }
        try FileSystem.createDirectory(dir, permissions: 0o700)
        try FileSystem.syncDirectory(containing: dir)
    }

    static func temporaryName(for key: ObjectKey) -> String {
        var g = SystemRandomNumberGenerator()
        let name = key.rawValue.split(separator: "/").last.map(String.init) ?? "object"
        return name + "." + String(g.next() as UInt64, radix: 16) + ".tmp"
    }

    // MARK: - Reading

    public func get(_ key: ObjectKey) async throws(ObjectStorageError) -> [UInt8] {
        let fd = try open(key)
        defer { fd.close() }
        do {
            let size = try fd.size()
            var bytes = [UInt8](repeating: 0, count: Int(size))
            try bytes.withMutableRawBytes { (raw) throws(IOError) in try fd.readExactly(into: raw, at: 0) }
            return bytes
        } catch {
            throw .io(where_(key), cause: error)
        }
    }

    public func get(_ key: ObjectKey, range: Range<Int64>) async throws(ObjectStorageError) -> [UInt8] {
        let fd = try open(key)
        defer { fd.close() }
        let size: Int64
        do { size = try fd.size() } catch { throw .io(where_(key), cause: error) }
        guard range.lowerBound >= 0, range.upperBound <= size else {
            throw .rangeNotSatisfiable(where_(key), range: range, size: size)
        }
        var bytes = [UInt8](repeating: 0, count: Int(range.count))
        do {
            try bytes.withMutableRawBytes { (raw) throws(IOError) in try fd.readExactly(into: raw, at: range.lowerBound) }
        } catch {
            throw .io(where_(key), cause: error)
        }
        return bytes
    }

    public func head(_ key: ObjectKey) async throws(ObjectStorageError) -> ObjectInfo? {
        do {
            return ObjectInfo(key: key, size: try FileSystem.fileSize(path(for: key)))
        } catch {
            if error.errno == .noEntry { return nil }
            throw .io(where_(key), cause: error)
        }
    }

    private func open(_ key: ObjectKey) throws(ObjectStorageError) -> FileDescriptor {
        do { return try FileDescriptor.open(path(for: key), .readOnly) } catch {
            if error.errno == .noEntry { throw .notFound(where_(key)) }
            throw .io(where_(key), cause: error)
        }
    }

    // MARK: - Deleting and listing

    public func delete(_ key: ObjectKey) async throws(ObjectStorageError) {
        let file = path(for: key)
        guard FileSystem.exists(file) else { return }
        do {
            try FileSystem.remove(file)
            try FileSystem.syncDirectory(containing: file)
        } catch {
            throw .io(where_(key), cause: error)
        }
    }

    public func list(prefix: String) async throws(ObjectStorageError) -> [ObjectInfo] {
        // Walk only the deepest directory the prefix names entirely ("packs/ab" → packs/).
        let directoryPart = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
        var found: [ObjectInfo] = []
        do {
            try walk(directoryPart, prefix: prefix, into: &found)
        } catch {
            throw .io(ObjectLocation(storage: root, key: root + "/" + directoryPart), cause: error)
        }
        return found.sorted { $0.key < $1.key }
    }

    private func walk(_ relative: String, prefix: String, into found: inout [ObjectInfo]) throws(IOError) {
        let dir = relative.isEmpty ? root : root + "/" + relative
        if dir == temporaryDirectory { return }
        for name in try FileSystem.list(dir) {
            let child = relative.isEmpty ? name : relative + "/" + name
            guard child.hasPrefix(prefix) || prefix.hasPrefix(child + "/") else { continue }
            let full = root + "/" + child
            if FileSystem.isDirectory(full) {
                try walk(child, prefix: prefix, into: &found)
            } else if child.hasPrefix(prefix), let key = try? ObjectKey(child) {
                found.append(ObjectInfo(key: key, size: try FileSystem.fileSize(full)))
            }
        }
    }

    private func where_(_ key: ObjectKey) -> ObjectLocation {
        ObjectLocation(storage: root, key: path(for: key))
    }
}
