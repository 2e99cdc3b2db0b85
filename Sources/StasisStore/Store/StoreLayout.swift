import Glibc

/// Where everything lives inside a store directory.
///
///     STORE/
///       catalog.sqlite        the catalog (WAL mode): images, packs, blobs, meta
///       store.json            instead of catalog.sqlite, on a host of a fleet store: where the
///                             shared catalog (PostgreSQL) and objects (S3) are
///       packs/ab/<id>.pack    immutable pack files, fanned out by the first two hex digits
///       manifests/ab/<id>.manifest  immutable image manifests (the id is their SHA-256)
///       keys/store.ed25519    the store's signing key
///       tmp/                  packs being written (never referenced; gc removes leftovers)
///       lock                  flock: writers and readers shared, gc exclusive
///
/// A store is private to its owner: `ContentStore.create` makes its directories 0700 and its
/// files 0600, set explicitly (not left to the umask). Guest memory and disks are in it.
public struct StoreLayout: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public var catalogPath: String { root + "/catalog.sqlite" }
    public var descriptorPath: String { root + "/store.json" }
    public var packsDirectory: String { root + "/packs" }
    public var manifestsDirectory: String { root + "/manifests" }
    public var temporaryDirectory: String { root + "/tmp" }
    public var lockPath: String { root + "/lock" }
    public var keysDirectory: String { root + "/keys" }
    public var keyPath: String { keysDirectory + "/store.ed25519" }

    /// Modes of what a store creates: private to the owner whatever the umask.
    public static let directoryMode: mode_t = 0o700
    public static let fileMode: mode_t = 0o600

    public func packDirectory(for id: String) -> String { packsDirectory + "/" + id.prefix(2) }
    public func packPath(for id: String) -> String { packDirectory(for: id) + "/" + id + ".pack" }
}
