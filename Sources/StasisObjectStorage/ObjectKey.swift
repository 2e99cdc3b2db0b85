/// A key inside an object storage, relative to its root (a directory, or a bucket and prefix):
/// `packs/ab/<id>.pack`, `manifests/ab/<id>.manifest`. Validated so that the same key means the
/// same object everywhere: non-empty '/'-separated segments of printable ASCII, none "." or "..",
/// no leading or trailing '/', at most 512 bytes (S3 allows 1024, and the prefix comes on top).
public struct ObjectKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) throws(ObjectStorageError) {
        if let reason = Self.problem(with: rawValue) { throw .invalidKey(rawValue, reason: reason) }
        self.rawValue = rawValue
    }

    /// For keys built here from ids already checked by their owners (hex, fixed suffixes).
    init(trusted rawValue: String) {
        precondition(Self.problem(with: rawValue) == nil, "bad object key \(rawValue)")
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    public static func < (a: ObjectKey, b: ObjectKey) -> Bool { a.rawValue < b.rawValue }

    static func problem(with key: String) -> String? {
        if key.isEmpty { return "it is empty" }
        if key.utf8.count > 512 { return "it is longer than 512 bytes" }
        for byte in key.utf8 where byte < 0x21 || byte > 0x7e {
            return "it contains a byte outside printable ASCII (0x\(String(byte, radix: 16)))"
        }
        for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty { return "it has an empty segment (a leading, trailing or doubled '/')" }
            if segment == "." || segment == ".." { return "it has a '\(segment)' segment" }
        }
        return nil
    }
}

// MARK: - The store's layout

extension ObjectKey {
    /// `packs/ab/<id>.pack`: fanned out by the id's first two characters, like the local store.
    public static func pack(id: String) -> ObjectKey {
        ObjectKey(trusted: "packs/" + fan(id) + "/" + id + ".pack")
    }

    /// `manifests/ab/<id>.manifest`.
    public static func manifest(id: String) -> ObjectKey {
        ObjectKey(trusted: "manifests/" + fan(id) + "/" + id + ".manifest")
    }

    /// The id in a `pack(id:)` or `manifest(id:)` key, for gc's sweep over `list`.
    public var layoutID: String? {
        let parts = rawValue.split(separator: "/")
        guard parts.count == 3, let dot = parts[2].lastIndex(of: ".") else { return nil }
        let id = parts[2][..<dot]
        guard parts[1] == fanSegment(id) else { return nil }
        return String(id)
    }

    private static func fan(_ id: String) -> String {
        precondition(id.count >= 2 && problem(with: id) == nil && !id.contains("/"), "bad object id \(id)")
        return String(id.prefix(2))
    }

    private func fanSegment(_ id: Substring) -> Substring { id.prefix(2) }
}
