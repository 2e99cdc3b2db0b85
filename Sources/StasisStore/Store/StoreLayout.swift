/// Where everything lives inside a store directory.
///
///     STORE/
///       catalog.sqlite        the catalog (WAL mode): images, packs and their entry tables, meta
///       packs/ab/<id>.pack    immutable pack files, fanned out by the first two hex digits
///       tmp/                  packs being written (never referenced; gc removes leftovers)
///       lock                  flock: writers and readers shared, gc exclusive
public struct StoreLayout: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public var catalogPath: String { root + "/catalog.sqlite" }
    public var packsDirectory: String { root + "/packs" }
    public var temporaryDirectory: String { root + "/tmp" }
    public var lockPath: String { root + "/lock" }

    public func packDirectory(for id: String) -> String { packsDirectory + "/" + id.prefix(2) }
    public func packPath(for id: String) -> String { packDirectory(for: id) + "/" + id + ".pack" }
}
