import Foundation
import Testing
import StasisCatalog
import StasisTestSupport

/// `forEachRow` on PostgreSQL streams: a server-side cursor read in batches, so a scan of any
/// length holds one batch (64 rows first, then about 4 MiB) and the server produces no row
/// before it is asked for. Checked by what the server did, never by timing:
/// - rows before a failing row reach the body, where a query read whole reports the failure
///   before any row;
/// - a body that stops after a few rows leaves a sequence advanced by one batch, not by the
///   million rows of the statement, and a batch of large rows holds a few of them;
/// - the cursor is closed afterwards and the transaction and the pool's connection go on.
@Suite("PostgreSQL catalog streams rows", .enabled(if: !TestServices.skipped, "STASIS_TEST_NO_SERVICES=1"))
struct PostgresStreamingTests {
    struct Enough: Error {}

    func catalog() throws -> PostgresCatalog {
        try PostgresCatalog(PostgresCatalogConfiguration.parse(try TestServices.postgresURL()))
    }

    @Test("rows reach the body before the statement has finished")
    func rowsBeforeTheEnd() throws {
        let db = try catalog()
        defer { db.close() }
        var seen: Int64 = 0
        // The last row divides by zero: read whole, the statement fails before any row is handed over.
        #expect {
            try db.read { c in
                try c.forEachRow("SELECT CASE WHEN g < 100000 THEN g ELSE g / (g - g) END AS n FROM generate_series(1, 100000) AS g", []) { row in
                    seen += 1
                    let n = try row.int("n")
                    #expect(n == seen)
                }
            }
        } throws: { error in
            guard let e = error as? CatalogError, case .statement(let catalog, _, let detail, _) = e else { return false }
            return catalog == db.location && detail.contains("division by zero")
        }
        #expect(seen >= 64 && seen < 100_000)
        #expect(try db.read { c in try c.scalar("SELECT 1 + 1") } == .int(2))
    }

    @Test("a body that stops early stops the server; the cursor closes and the transaction goes on")
    func stopsEarly() throws {
        let db = try catalog()
        defer { db.close() }
        let sequence = "stream_probe_" + UUID().uuidString.prefix(8).lowercased()
        try db.write { c in try c.execute("CREATE SEQUENCE \(sequence)", []) }
        defer { _ = try? db.write { c in try c.execute("DROP SEQUENCE IF EXISTS \(sequence)", []) } }
        try db.write { c in
            var seen = 0
            #expect(throws: Enough.self) {
                try c.forEachRow("SELECT nextval('\(sequence)') AS n FROM generate_series(1, ?::bigint)", [.int(1_000_000)]) { _ in
                    seen += 1
                    if seen == 10 { throw Enough() }
                }
            }
            #expect(seen == 10)
            // The server evaluated the first batch only (a sequence advances outside transactions).
            #expect(try c.scalar("SELECT last_value FROM \(sequence)") == .int(64))
            #expect(try c.scalar("SELECT count(*) FROM pg_cursors WHERE name LIKE 'stasis_rows_%'") == .int(0))
            try c.execute("SELECT setval('\(sequence)', 1, false)", [])
            // Rows of 1 MiB: after the first batch of 64, a batch holds about 4 MiB (16 rows at the least).
            seen = 0
            #expect(throws: Enough.self) {
                try c.forEachRow("SELECT nextval('\(sequence)') AS n, repeat('x', 1048576) AS pad FROM generate_series(1, 1000)", []) { row in
                    seen += 1
                    let pad = try row.text("pad")
                    #expect(pad.utf8.count == 1 << 20)
                    if seen == 65 { throw Enough() }
                }
            }
            #expect(try c.scalar("SELECT last_value FROM \(sequence)") == .int(64 + 16))
            #expect(try c.scalar("SELECT count(*) FROM pg_cursors WHERE name LIKE 'stasis_rows_%'") == .int(0))
        }
        #expect(try db.read { c in try c.scalar("SELECT count(*) FROM pg_cursors WHERE name LIKE 'stasis_rows_%'") } == .int(0))
    }

    @Test("statements that cannot be cursors still hand over their rows")
    func returning() throws {
        let db = try catalog()
        defer { db.close() }
        let table = "stream_ret_" + UUID().uuidString.prefix(8).lowercased()
        defer { _ = try? db.write { c in try c.execute("DROP TABLE IF EXISTS \(table)", []) } }
        let ids = try db.write { c in
            try c.execute("CREATE TABLE \(table) (id BIGINT PRIMARY KEY)", [])
            var ids: [Int64] = []
            try c.forEachRow("INSERT INTO \(table) (id) SELECT g FROM generate_series(1, ?::bigint) AS g RETURNING id", [.int(300)]) { row in
                ids.append(try row.int("id"))
            }
            // A parenthesised or lower-case SELECT streams as well.
            var n = 0
            try c.forEachRow("  (select id from \(table) where id > ?)", [.int(100)]) { _ in n += 1 }
            #expect(n == 200)
            return ids
        }
        #expect(ids.sorted() == Array(1...300))
    }

    @Test("a pooled connection that died while idle is replaced, not reported")
    func deadIdleConnection() throws {
        let db = try catalog(), other = try catalog()
        defer { db.close(); other.close() }
        let pid = try #require(try db.read { c in try c.scalar("SELECT pg_backend_pid()") })
        #expect(try other.read { c in try c.scalar("SELECT pg_terminate_backend(?::int)", pid) } == .int(1))
        // The pool's only idle connection is the dead one: the next transaction gets a new one.
        let again = try db.read { c in try c.scalar("SELECT pg_backend_pid()") }
        #expect(again != nil && again != pid)
        #expect(try db.write { c in try c.scalar("SELECT 40 + 2") } == .int(42))
    }
}
