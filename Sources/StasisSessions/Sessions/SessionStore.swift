import Foundation
import GRDB
import StasisStore

/// Sessions, their checkpoints and their histories, kept in a content store's catalog. The CLI
/// and the daemon are thin faces over this type.
public final class SessionStore: Sendable {
    public let store: ContentStore
    private let keyCache = MutexBox<StoreKey?>(nil)

    public init(store: ContentStore) { self.store = store }

    /// The store's signing key, loaded once.
    func signingKey() throws(HistoryError) -> StoreKey {
        if let key = keyCache.withLockedValue({ $0 }) { return key }
        let key = try HistoryError.wrap { () throws(StoreError) in try StoreKey.load(store.layout) }
        keyCache.withLockedValue { $0 = key }
        return key
    }

    public static func open(at path: String) throws(HistoryError) -> SessionStore {
        SessionStore(store: try HistoryError.wrap { () throws(StoreError) in try ContentStore.open(at: path) })
    }

    var catalog: Catalog { store.catalog }

    func read<T>(_ body: (Database) throws -> T) throws(HistoryError) -> T {
        do { return try catalog.readThrough(body) } catch { throw map(error) }
    }

    /// One write transaction: all of it commits, or none (a HistoryError thrown inside rolls back).
    func write<T>(_ body: (Database) throws -> T) throws(HistoryError) -> T {
        do { return try catalog.writeThrough(body) } catch { throw map(error) }
    }

    private func map(_ error: any Error) -> HistoryError {
        if let e = error as? HistoryError { return e }
        if let e = error as? StoreError { return .store(e) }
        return .store(.catalog(path: catalog.path, message: "\(error)"))
    }

    /// Resolves a full id or unique prefix (at least 4 characters) in `table`.
    func resolve(_ idOrPrefix: String, table: String, kind: String, notFound: (String) -> HistoryError) throws(HistoryError) -> String {
        let key = idOrPrefix.lowercased()
        guard key.count >= 4, key.count <= 64, key.allSatisfy({ $0.isHexDigit }) else {
            throw .badArgument(field: "\(kind) id", message: "'\(idOrPrefix)' is not a \(kind) id (hex digits, at least 4)")
        }
        let matches = try read { db in
            try String.fetchAll(db, sql: "SELECT id FROM \(table) WHERE id >= ? AND id < ? ORDER BY id LIMIT 4", arguments: [key, key + "g"])
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
