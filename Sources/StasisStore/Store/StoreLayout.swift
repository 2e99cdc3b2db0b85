/// Where everything lives inside a store directory.
///
///     STORE/
///       catalog.sqlite        the catalog (WAL mode): images, packs, blobs, meta
///       packs/ab/<id>.pack    immutable pack files, fanned out by the first two hex digits
///       manifests/ab/<id>.manifest  immutable image manifests (the id is their SHA-256)
///       tmp/                  packs being written (never referenced; gc removes leftovers)
///       lock                  flock: writers and readers shared, gc exclusive
public struct StoreLayout: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public var catalogPath: String { root + "/catalog.sqlite" }
    public var packsDirectory: String { root + "/packs" }
    public var manifestsDirectory: String { root + "/manifests" }
    public var temporaryDirectory: String { root + "/tmp" }
    public var lockPath: String { root + "/lock" }

    public func packDirectory(for id: String) -> String { packsDirectory + "/" + id.prefix(2) }
    public func packPath(for id: String) -> String { packDirectory(for: id) + "/" + id + ".pack" }
}
