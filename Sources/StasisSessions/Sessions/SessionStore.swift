import Foundation
import StasisCatalog
import StasisStore

/// Sessions, their checkpoints and their histories, kept in a content store's catalog. The CLI
/// and the daemon are thin faces over this type.
public final class SessionStore: Sendable {
    public let store: ContentStore
    private let keyCache = MutexBox<StoreKey?>(nil)
    private let schemaReady = MutexBox(false)

    public init(store: ContentStore) { self.store = store }

    /// The store's signing key, loaded once. A key file that its group or others may read (or
    /// write) is refused: whoever can read it can sign checkpoints and history heads.
    func signingKey() throws(HistoryError) -> StoreKey {
        if let key = keyCache.withLockedValue({ $0 }) { return key }
        let path = store.layout.keyPath
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & 0o077 != 0 {
            throw .badArgument(field: "store key \(path)", message: "its mode is \(String(st.st_mode & 0o777, radix: 8)), so other users may read it: run `chmod 600 \(path)` (and check that nobody copied it)")
        }
        let key = try HistoryError.wrap { () throws(StoreError) in try StoreKey.load(store.layout) }
        keyCache.withLockedValue { $0 = key }
        return key
    }

    /// The store's public key, 64 hex digits: the form `bundle verify --key` and
    /// `bundle import --key` take. It is derived from the private key file, not read from the
    /// catalog.
    public func publicKey() throws(HistoryError) -> String { try signingKey().publicKeyHex }

    public static func open(at path: String) throws(HistoryError) -> SessionStore {
        SessionStore(store: try HistoryError.wrap { () throws(StoreError) in try ContentStore.open(at: path) })
    }

    var catalog: Catalog { store.catalog }

    /// A read transaction on the catalog's engine (SQLite or PostgreSQL): one consistent snapshot.
    func read<T>(_ body: (any CatalogConnection) throws -> T) throws(HistoryError) -> T {
        try ensureSchema()
        do { return try catalog.database.read(body) } catch { throw map(error) }
    }

    /// One write transaction: all of it commits, or none (a HistoryError thrown inside rolls back).
    func write<T>(_ body: (any CatalogConnection) throws -> T) throws(HistoryError) -> T {
        try ensureSchema()
        do { return try catalog.database.write(body) } catch { throw map(error) }
    }

    /// The sessions layer owns its tables: they are created (or a newer catalog refused) the
    /// first time this store touches them.
    func ensureSchema() throws(HistoryError) {
        if schemaReady.withLockedValue({ $0 }) { return }
        do { try CatalogMigrator.migrate(catalog.database, SessionsSchema.schema) } catch {
            throw map(error)
        }
        schemaReady.withLockedValue { $0 = true }
    }

    private func map(_ error: any Error) -> HistoryError {
        switch error {
        case let e as HistoryError: return e
        case let e as StoreError: return .store(e)
        case let e as CatalogError: return map(e)
        default: return .store(.catalog(path: catalog.database.location, message: "\(error)"))
        }
    }

    /// The engine's error, with what it says (statement, engine message, SQLSTATE) in the
    /// message: `StoreError.catalog` has no room for the error itself.
    private func map(_ error: CatalogError) -> HistoryError {
        switch error {
        case .body(let inner): return map(inner)
        case .newerSchema(_, _, let unknown): return .store(.unknownMigrations(path: store.layout.root, names: unknown))
        default: return .store(.catalog(path: catalog.database.location, message: error.description))
        }
    }

    /// Resolves a full id or unique prefix (at least 4 characters) in `table`.
    func resolve(_ idOrPrefix: String, table: String, kind: String, notFound: (String) -> HistoryError) throws(HistoryError) -> String {
        let key = idOrPrefix.lowercased()
        guard key.count >= 4, key.count <= 64, key.allSatisfy({ $0.isHexDigit }) else {
            throw .badArgument(field: "\(kind) id", message: "'\(idOrPrefix)' is not a \(kind) id (hex digits, at least 4)")
        }
        // Ids are lower-case hex, which every collation orders as bytes: a range scan finds them.
        let matches = try read { db in
            try db.query("SELECT id FROM \(table) WHERE id >= ? AND id < ? ORDER BY id LIMIT 4", key, key + "g").map { try $0.text("id") }
        }
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty { throw notFound(idOrPrefix) }
        throw .ambiguous(kind: kind, prefix: idOrPrefix, matches: matches)
    }

    static func newID() -> String {
        var g = SystemRandomNumberGenerator()
        return [g.next() as UInt64, g.next() as UInt64].map { String(format: "%016llx", $0) }.joined()
    }

    static func nowNanoseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1e9).rounded()) }
}
