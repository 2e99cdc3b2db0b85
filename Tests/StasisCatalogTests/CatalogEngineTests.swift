import Foundation
import Testing
import StasisCatalog
import StasisTestSupport

/// Both engines behind `CatalogDatabase` mean the same thing. Invariants checked on SQLite and on
/// the test PostgreSQL alike:
/// - values round-trip exactly (integers at the edges, doubles, text with quotes and `?`, empty
///   and binary blobs, NULL); `?` inside quoted text is not a placeholder;
/// - a write whose body throws changes nothing and its error comes out unchanged; a savepoint
///   undoes only its own part;
/// - writers from many threads doing read-decide-write lose no update (writes are serialized);
/// - migrations apply once, in order, and a catalog holding a migration of this layer that the
///   code does not know is refused before anything changes;
/// - PostgreSQL: a wrong password or an address where nothing listens is an error naming the
///   endpoint, never the password.
@Suite("Catalog engines", .enabled(if: !TestServices.skipped, "STASIS_TEST_NO_SERVICES=1"))
struct CatalogEngineTests {
    struct Body: Error, Equatable { var n: Int }

    static let engines = ["sqlite", "postgres"]

    /// A database and a layer name of its own, so that runs never see each other's tables.
    final class Fixture {
        let directory = TemporaryDirectory("catalog")
        let database: any CatalogDatabase
        let layer = "t" + UUID().uuidString.prefix(8).lowercased()

        init(_ engine: String) throws {
            if engine == "sqlite" {
                database = try SQLiteCatalog(path: directory.path + "/catalog.sqlite")
            } else {
                database = try PostgresCatalog(PostgresCatalogConfiguration.parse(try TestServices.postgresURL()))
            }
        }

        var table: String { layer + "_items" }

        var schema: CatalogSchema {
            CatalogSchema(layer: layer, migrations: [
                CatalogMigration("\(layer):v1-items",
                                 sqlite: "CREATE TABLE \(table) (id TEXT PRIMARY KEY NOT NULL, n INTEGER, d REAL, t TEXT, b BLOB) WITHOUT ROWID;",
                                 postgres: "CREATE TABLE \(table) (id TEXT PRIMARY KEY NOT NULL, n BIGINT, d DOUBLE PRECISION, t TEXT, b BYTEA);"),
                CatalogMigration("\(layer):v2-counter",
                                 sqlite: "CREATE TABLE \(layer)_counter (k TEXT PRIMARY KEY NOT NULL, v INTEGER NOT NULL); INSERT INTO \(layer)_counter VALUES ('c', 0);",
                                 postgres: "CREATE TABLE \(layer)_counter (k TEXT PRIMARY KEY NOT NULL, v BIGINT NOT NULL); INSERT INTO \(layer)_counter VALUES ('c', 0);"),
            ])
        }

        deinit {
            if database.engine == .postgres {
                _ = try? database.write { db in
                    try db.executeScript("DROP TABLE IF EXISTS \(layer)_items; DROP TABLE IF EXISTS \(layer)_counter;")
                    try db.execute("DELETE FROM stasis_migrations WHERE identifier LIKE ?", layer + ":%")
                }
            }
            database.close()
        }
    }

    @Test("values round-trip exactly", arguments: engines)
    func roundTrip(engine: String) throws {
        let f = try Fixture(engine)
        try CatalogMigrator.migrate(f.database, f.schema)
        let blob: [UInt8] = [0, 255, 1, 0x27, 0x3F, 0, 10, 13]
        let rows: [(String, CatalogValue, CatalogValue, CatalogValue, CatalogValue)] = [
            ("max", .int(.max), .double(1.5e300), .text("it's a ? 'quoted' \"thing\""), .blob(blob)),
            ("min", .int(.min), .double(-0.25), .text(""), .blob([])),
            ("nulls", .null, .null, .null, .null),
            ("unicode", .int(0), .double(0), .text("Grüße 🌍 \u{1}"), .blob(Array(repeating: 0xAB, count: 100_000))),
        ]
        try f.database.write { db in
            for r in rows { try db.execute("INSERT INTO \(f.table) (id, n, d, t, b) VALUES (?, ?, ?, ?, ?)", [.text(r.0), r.1, r.2, r.3, r.4]) }
        }
        let read = try f.database.read { db in try db.query("SELECT id, n, d, t, b FROM \(f.table) ORDER BY id", []) }
        #expect(read.count == rows.count)
        for r in rows {
            let row = try #require(read.first { $0["id"] == .text(r.0) })
            #expect(row["n"] == r.1 && row["d"] == r.2 && row["t"] == r.3)
            // An empty blob may come back as empty bytes from either engine.
            #expect(row.optionalBlob("b") ?? [] == (r.4 == .null ? [] : try { if case .blob(let b) = r.4 { return b } else { return [] } }()))
        }
        // A `?` inside quotes is text, not a placeholder.
        let quoted = try f.database.read { db in try db.queryOne("SELECT id FROM \(f.table) WHERE t = 'it''s a ? ''quoted'' \"thing\"' AND id = ?", "max") }
        #expect(try quoted?.text("id") == "max")
        #expect(try f.database.read { db in try db.scalar("SELECT count(*) FROM \(f.table) WHERE n > ?", Int64(-1)) } == .int(2))
    }

    @Test("a failed write changes nothing; a savepoint undoes only its part", arguments: engines)
    func rollback(engine: String) throws {
        let f = try Fixture(engine)
        try CatalogMigrator.migrate(f.database, f.schema)
        #expect(throws: Body(n: 7)) {
            try f.database.write { db in
                try db.execute("INSERT INTO \(f.table) (id) VALUES (?)", "lost")
                throw Body(n: 7)
            }
        }
        try f.database.write { db in
            try db.execute("INSERT INTO \(f.table) (id) VALUES (?)", "kept")
            #expect(throws: Body(n: 1)) {
                try db.savepoint { try db.execute("INSERT INTO \(f.table) (id) VALUES (?)", "undone"); throw Body(n: 1) }
            }
            try db.savepoint { try db.execute("INSERT INTO \(f.table) (id) VALUES (?)", "inner") }
        }
        let ids = try f.database.read { db in try db.query("SELECT id FROM \(f.table) ORDER BY id", []).map { try $0.text("id") } }
        #expect(ids == ["inner", "kept"])
        // A statement error is a CatalogError naming the catalog, and the transaction is undone.
        #expect {
            try f.database.write { db in
                try db.execute("INSERT INTO \(f.table) (id) VALUES (?)", "dup")
                try db.execute("INSERT INTO \(f.table) (id) VALUES (?)", "dup")
            }
        } throws: { error in
            guard let e = error as? CatalogError, case .statement(let catalog, _, _, _) = e else { return false }
            return catalog == f.database.location
        }
        #expect(try f.database.read { db in try db.scalar("SELECT count(*) FROM \(f.table) WHERE id = 'dup'") } == .int(0))
    }

    @Test("a scan's body may run statements and scan again between rows", arguments: engines)
    func nestedScans(engine: String) throws {
        let f = try Fixture(engine)
        try CatalogMigrator.migrate(f.database, f.schema)
        try f.database.write { db in
            for i in 0..<1000 { try db.execute("INSERT INTO \(f.table) (id, n) VALUES (?, ?)", String(format: "%04d", i), i) }
        }
        let (rows, lookups, inner) = try f.database.read { db in
            var rows = 0, lookups: Int64 = 0, inner = 0
            try db.forEachRow("SELECT id, n FROM \(f.table) WHERE n >= ? ORDER BY id", [.int(100)]) { row in
                rows += 1
                lookups += try db.queryOne("SELECT n FROM \(f.table) WHERE id = ?", try row.text("id"))!.int("n")
                if rows % 100 == 0 {
                    try db.forEachRow("SELECT id FROM \(f.table) WHERE n < ? ORDER BY id", [.int(5)]) { _ in inner += 1 }
                }
            }
            return (rows, lookups, inner)
        }
        #expect(rows == 900 && lookups == (100..<1000).reduce(0, +) && inner == 9 * 5)
    }

    @Test("writers on many threads lose no update", arguments: engines)
    func serializedWriters(engine: String) throws {
        let f = try Fixture(engine)
        try CatalogMigrator.migrate(f.database, f.schema)
        let threads = 8, rounds = 25
        let database = f.database, layer = f.layer
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<rounds {
                try! database.write { db in
                    let v = try db.queryOne("SELECT v FROM \(layer)_counter WHERE k = 'c'", [])!.int("v")
                    try db.execute("UPDATE \(layer)_counter SET v = ? WHERE k = 'c'", v + 1)
                }
            }
        }
        #expect(try f.database.read { db in try db.scalar("SELECT v FROM \(layer)_counter WHERE k = 'c'") } == .int(Int64(threads * rounds)))
    }

    @Test("migrations apply once; a newer catalog is refused before anything changes", arguments: engines)
    func migrations(engine: String) throws {
        let f = try Fixture(engine)
        var first = f.schema
        first.migrations.removeLast()
        try CatalogMigrator.migrate(f.database, first)
        #expect(try !CatalogMigrator.isCurrent(f.database, f.schema))
        try CatalogMigrator.migrate(f.database, f.schema)
        try CatalogMigrator.migrate(f.database, f.schema)
        #expect(try CatalogMigrator.isCurrent(f.database, f.schema))
        let table = engine == "sqlite" ? "grdb_migrations" : "stasis_migrations"
        try f.database.write { db in try db.execute("INSERT INTO \(table) (identifier) VALUES (?)", f.layer + ":v9-from-the-future") }
        var newer = f.schema
        newer.migrations.append(CatalogMigration("\(f.layer):v3-new", sqlite: "CREATE TABLE \(f.layer)_x (a INTEGER);", postgres: "CREATE TABLE \(f.layer)_x (a BIGINT);"))
        #expect { try CatalogMigrator.migrate(f.database, newer) } throws: {
            "\($0)".contains("v9-from-the-future") && "\($0)".contains("newer stasis")
        }
        let exists = try f.database.read { db in
            engine == "sqlite" ? try db.queryOne("SELECT name FROM sqlite_master WHERE name = ?", f.layer + "_x") != nil
                               : try db.queryOne("SELECT to_regclass(?)::text AS t", f.layer + "_x")?.optionalText("t") != nil
        }
        #expect(!exists)
        if engine == "postgres" { try f.database.write { db in try db.executeScript("DROP TABLE IF EXISTS \(f.layer)_x;") } }
    }
}

@Suite("PostgreSQL catalog configuration and failures", .enabled(if: !TestServices.skipped, "STASIS_TEST_NO_SERVICES=1"))
struct PostgresCatalogConfigurationTests {
    @Test("URL and libpq variables; the password is never shown")
    func parse() throws {
        let c = try PostgresCatalogConfiguration.parse("postgres://alice:s%40cret@db.example:6543/fleet?sslmode=require")
        #expect(c.host == "db.example" && c.port == 6543 && c.user == "alice" && c.password == "s@cret" && c.database == "fleet" && c.tls == .require)
        #expect(!c.description.contains("cret") && c.description == "postgres://alice@db.example:6543/fleet?sslmode=require")
        // The description parses back to the same settings (it is what a store descriptor keeps).
        let schema = try PostgresCatalogConfiguration.parse("postgres://alice:pw@db.example/fleet?schema=fleet_a")
        #expect(schema.schema == "fleet_a" && schema.description == "postgres://alice@db.example:5432/fleet?schema=fleet_a")
        let again = try PostgresCatalogConfiguration.parse(schema.description, environment: ["PGPASSWORD": "pw"])
        #expect(again == schema)
        #expect(throws: CatalogError.self) { _ = try PostgresCatalogConfiguration.parse("postgres://a@h/db?schema=x;drop") }
        #expect(throws: CatalogError.self) { _ = try PostgresCatalogConfiguration.parse("postgres://a@h/db?schema=9lives") }
        let e = try PostgresCatalogConfiguration.parse(nil, environment: ["PGHOST": "h", "PGUSER": "u", "PGPASSWORD": "pw"])
        #expect(e.host == "h" && e.port == 5432 && e.database == "u" && e.password == "pw")
        let partial = try PostgresCatalogConfiguration.parse("postgres:///db", environment: ["PGHOST": "h2", "PGUSER": "u2"])
        #expect(partial.host == "h2" && partial.database == "db")
        #expect { _ = try PostgresCatalogConfiguration.parse("mysql://x:topsecret@h/db") } throws: { !"\($0)".contains("topsecret") && "\($0)".contains("postgres://") }
        #expect { _ = try PostgresCatalogConfiguration.parse(nil, environment: [:]) } throws: { "\($0)".contains("PGHOST") }
        #expect { _ = try PostgresCatalogConfiguration.parse("postgres://u@h/d?sslmode=maybe") } throws: { "\($0)".contains("sslmode") }
    }

    @Test("a wrong password and a dead address name the endpoint, not the password")
    func failures() throws {
        var c = try PostgresCatalogConfiguration.parse(try TestServices.postgresURL())
        c.password = "not-the-password-\(UUID().uuidString)"
        let wrong = c
        #expect { _ = try PostgresCatalog(wrong) } throws: {
            "\($0)".contains(wrong.description) && "\($0)".contains("credentials") && !"\($0)".contains(wrong.password!)
        }
        var dead = c
        dead.port = 1   // nothing listens on port 1
        #expect { _ = try PostgresCatalog(dead) } throws: { "\($0)".contains(dead.description) && !"\($0)".contains(dead.password!) }
    }
}
