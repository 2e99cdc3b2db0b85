import Synchronization

/// Wraps a storage and makes chosen calls fail, for tests of the layers above (a capture whose
/// pack upload fails, a restore whose range read fails halfway through a plan).
///
///     let faulty = FaultInjectingObjectStorage(wrapping: InMemoryObjectStorage())
///     faulty.inject(.put, after: 2, times: 1, error: .unavailable(…))   // the 3rd put fails once
public final class FaultInjectingObjectStorage: ObjectStorage {
    public enum Operation: String, Sendable, CaseIterable {
        case put, get, getRange, head, delete, list
    }

    struct Rule {
        var operation: Operation
        var remainingToPass: Int
        var remainingFailures: Int
        var error: ObjectStorageError
    }

    public let wrapped: any ObjectStorage
    private let rules = Mutex<[Rule]>([])

    public init(wrapping storage: any ObjectStorage) { wrapped = storage }

    public var location: String { wrapped.location }

    /// Lets `after` calls of `operation` through, then fails the next `times` calls with `error`.
    public func inject(_ operation: Operation, after: Int = 0, times: Int = 1, error: ObjectStorageError) {
        rules.withLock { $0.append(Rule(operation: operation, remainingToPass: after, remainingFailures: times, error: error)) }
    }

    public func removeAll() { rules.withLock { $0.removeAll() } }

    private func check(_ operation: Operation) throws(ObjectStorageError) {
        let failure: ObjectStorageError? = rules.withLock { rules in
            for i in rules.indices where rules[i].operation == operation && rules[i].remainingFailures > 0 {
                if rules[i].remainingToPass > 0 { rules[i].remainingToPass -= 1; return nil }
                rules[i].remainingFailures -= 1
                return rules[i].error
            }
            return nil
        }
        if let failure { throw failure }
    }

    public func put(_ key: ObjectKey, bytes: [UInt8], sha256: ObjectDigest?) async throws(ObjectStorageError) {
        try check(.put)
        try await wrapped.put(key, bytes: bytes, sha256: sha256)
    }

    public func put(_ key: ObjectKey, contentsOf path: String, sha256: ObjectDigest?) async throws(ObjectStorageError) {
        try check(.put)
        try await wrapped.put(key, contentsOf: path, sha256: sha256)
    }

    public func get(_ key: ObjectKey) async throws(ObjectStorageError) -> [UInt8] {
        try check(.get)
        return try await wrapped.get(key)
    }

    public func get(_ key: ObjectKey, range: Range<Int64>) async throws(ObjectStorageError) -> [UInt8] {
        try check(.getRange)
        return try await wrapped.get(key, range: range)
    }

    public func head(_ key: ObjectKey) async throws(ObjectStorageError) -> ObjectInfo? {
        try check(.head)
        return try await wrapped.head(key)
    }

    public func delete(_ key: ObjectKey) async throws(ObjectStorageError) {
        try check(.delete)
        try await wrapped.delete(key)
    }

    public func list(prefix: String) async throws(ObjectStorageError) -> [ObjectInfo] {
        try check(.list)
        return try await wrapped.list(prefix: prefix)
    }
}
