/// Write-once objects — packs, manifests — kept in a local directory or an S3-compatible service.
///
/// The catalog says which objects exist, so nothing here depends on listing after a write: `list`
/// is for garbage collection and repair only. An object is written once under a key that names
/// its content (or a fresh random id) and is never rewritten with different bytes; writing the same
/// key again with the same bytes is harmless. Every upload carries the object's SHA-256, which the
/// storage checks before the object becomes visible; every read returns exactly the bytes asked
/// for or throws — never fewer.
///
///     let storage: any ObjectStorage = LocalDirectoryObjectStorage(root: "/srv/store")
///     try await storage.put(.pack(id: packID), contentsOf: sealedPackPath, sha256: nil)
///     let footer = try await storage.get(.pack(id: packID), range: size - 64 ..< size)
public protocol ObjectStorage: Sendable {
    /// Where the objects live, for messages: a directory, or an endpoint, bucket and prefix.
    var location: String { get }

    /// Stores `bytes` under `key`. A given `sha256` is checked against `bytes` first (a mismatch
    /// throws `checksumMismatch` and stores nothing); the digest is also sent with the upload so
    /// that the service rejects bytes damaged on the way.
    func put(_ key: ObjectKey, bytes: [UInt8], sha256: ObjectDigest?) async throws(ObjectStorageError)

    /// Stores the file at `path` under `key`, the same way. Large files go up in parts (S3
    /// multipart upload), each part with its own checksum; the whole file is read once.
    func put(_ key: ObjectKey, contentsOf path: String, sha256: ObjectDigest?) async throws(ObjectStorageError)

    /// The whole object. Throws `notFound` if there is none.
    func get(_ key: ObjectKey) async throws(ObjectStorageError) -> [UInt8]

    /// Exactly `range.count` bytes from `range.lowerBound`. A range reaching past the end throws
    /// `rangeNotSatisfiable` (naming the object's size) rather than returning fewer bytes.
    func get(_ key: ObjectKey, range: Range<Int64>) async throws(ObjectStorageError) -> [UInt8]

    /// The object's size, or nil if there is no such object.
    func head(_ key: ObjectKey) async throws(ObjectStorageError) -> ObjectInfo?

    /// Removes the object; removing one that is not there succeeds (gc may retry a sweep).
    func delete(_ key: ObjectKey) async throws(ObjectStorageError)

    /// Every object whose key starts with `prefix` (a plain string prefix such as "packs/" or
    /// "packs/ab"), sorted by key. For gc and repair: a fresh write may not be listed yet on an
    /// eventually consistent service, so never decide that an object exists from this.
    func list(prefix: String) async throws(ObjectStorageError) -> [ObjectInfo]
}

extension ObjectStorage {
    /// Stores `bytes`, computing their SHA-256 here.
    public func put(_ key: ObjectKey, bytes: [UInt8]) async throws(ObjectStorageError) {
        try await put(key, bytes: bytes, sha256: nil)
    }

    /// Stores the file at `path`, computing its SHA-256 while reading it.
    public func put(_ key: ObjectKey, contentsOf path: String) async throws(ObjectStorageError) {
        try await put(key, contentsOf: path, sha256: nil)
    }
}

/// What `head` and `list` know of an object.
public struct ObjectInfo: Sendable, Hashable {
    public var key: ObjectKey
    public var size: Int64

    public init(key: ObjectKey, size: Int64) {
        self.key = key
        self.size = size
    }
}
