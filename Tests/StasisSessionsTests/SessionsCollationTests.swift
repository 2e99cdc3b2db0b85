import Foundation
import StasisCatalog
import StasisSessions
import StasisStore
import StasisStoreTestSupport
import Testing

/// On PostgreSQL every text column of the store and sessions tables compares bytes, as on
/// SQLite: on a new fleet store, and on one made by a Stasis before `store:v5-text-collate-c` and
/// `sessions:v4-text-collate-c` on a database whose collation is en-US (simulated: those tables'
/// text columns in ICU en-US, the migrations not recorded), once it is opened again — and its
/// history still verifies and grows.
@Suite("store and sessions: text columns in byte order on PostgreSQL", .enabled(if: !TestStores.servicesSkipped, "STASIS_TEST_NO_SERVICES=1"))
struct SessionsCollationTests {
    static let storeTables = ["store_meta", "packs", "images", "blobs", "writer_leases", "writer_uploads", "condemned_packs", "data_keys"]
    static let sessionTables = ["sessions", "checkpoints", "checkpoint_refs", "events", "merkle_tiles", "sandbox_claims"]

    @Test("an older store made on an en-US database is migrated when it is opened")
    func migrates() throws {
        let root = NSTemporaryDirectory() + "stasis-sessions-collate-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ContentStore.create(at: root, backends: try TestStores.fleetBackends())
        let sessions = SessionStore(store: store)
        let session = try sessions.createSession().id
        var rng = Rng(state: 7)
        try sessions.append(session, randomEvents(300, &rng))
        #expect(try CatalogCollation.textColumnsNotC(store.catalog.database) == [])

        try CatalogCollation.makeOlder(store.catalog.database, tables: Self.storeTables + Self.sessionTables,
                                       forgetting: ["store:v5-text-collate-c", "sessions:v4-text-collate-c"])
        #expect(try CatalogCollation.textColumnsNotC(store.catalog.database).count == 32)

        let reopened = SessionStore(store: try ContentStore.open(at: root))
        #expect(try reopened.verifyHistory(session).ok)
        try reopened.append(session, randomEvents(10, &rng))
        #expect(try reopened.verifyHistory(session).events == 310)
        #expect(try CatalogCollation.textColumnsNotC(store.catalog.database) == [])
        let applied = try store.catalog.database.read { db in try CatalogMigrator.applied(db) }
        #expect(applied.isSuperset(of: ["store:v5-text-collate-c", "sessions:v4-text-collate-c"]))
    }
}
