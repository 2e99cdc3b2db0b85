import Synchronization
import StasisIO

/// Objects in memory, for tests of the layers above: the same contract as the real storages
/// (digest checked on put, exact ranges, nil from `head` when absent, sorted listings), no I/O.
/// `operations` counts calls by name so a test can check that, say, a restore read each pack once.
public final class InMemoryObjectStorage: ObjectStorage {
    private let objects = Mutex<[ObjectKey: [UInt8]]>([:])
    private let counts = Mutex<[String: Int]>([:])

    public init() {}

    public var location: String { "memory" }

    /// How many times each operation ("put", "get", "getRange", "head", "delete", "list") ran.
    public var operations: [String: Int] { counts.withLock { $0 } }

    /// Every stored key, sorted.
    public var keys: [ObjectKey] { objects.withLock { $0.keys.sorted() } }

    public func put(_ key: ObjectKey, bytes: [UInt8], sha256: ObjectDigest?) async throws(ObjectStorageError) {
        count("put")
        if let sha256 {
            let actual = ObjectDigest.of(bytes)
            if actual != sha256 { throw .checksumMismatch(where_(key), expected: sha256, actual: actual) }
        }
        objects.withLock { $0[key] = bytes }
    }

    public func put(_ key: ObjectKey, contentsOf path: String, sha256: ObjectDigest?) async throws(ObjectStorageError) {
        let bytes: [UInt8]
        do {
            let fd = try FileDescriptor.open(path, .readOnly)
            defer { fd.close() }
            bytes = try fd.readAll()
        } catch {
            throw .io(ObjectLocation(storage: location, key: path), cause: error)
        }
        try await put(key, bytes: bytes, sha256: sha256)
    }

    public func get(_ key: ObjectKey) async throws(ObjectStorageError) -> [UInt8] {
        count("get")
        guard let bytes = objects.withLock({ $0[key] }) else { throw .notFound(where_(key)) }
        return bytes
    }

    public func get(_ key: ObjectKey, range: Range<Int64>) async throws(ObjectStorageError) -> [UInt8] {
        count("getRange")
        guard let bytes = objects.withLock({ $0[key] }) else { throw .notFound(where_(key)) }
        guard range.lowerBound >= 0, range.upperBound <= Int64(bytes.count) else {
            throw .rangeNotSatisfiable(where_(key), range: range, size: Int64(bytes.count))
        }
        return Array(bytes[Int(range.lowerBound)..<Int(range.upperBound)])
    }

    public func head(_ key: ObjectKey) async throws(ObjectStorageError) -> ObjectInfo? {
        count("head")
        return objects.withLock { $0[key] }.map { ObjectInfo(key: key, size: Int64($0.count)) }
    }

    public func delete(_ key: ObjectKey) async throws(ObjectStorageError) {
        count("delete")
        _ = objects.withLock { $0.removeValue(forKey: key) }
    }

    public func list(prefix: String) async throws(ObjectStorageError) -> [ObjectInfo] {
        count("list")
        return objects.withLock { all in
            all.filter { $0.key.rawValue.hasPrefix(prefix) }
                .map { ObjectInfo(key: $0.key, size: Int64($0.value.count)) }
                .sorted { $0.key < $1.key }
        }
    }

    private func count(_ operation: String) { counts.withLock { $0[operation, default: 0] += 1 } }

    private func where_(_ key: ObjectKey) -> ObjectLocation { ObjectLocation(storage: location, key: key.rawValue) }
}
