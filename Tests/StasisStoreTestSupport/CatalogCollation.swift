import StasisCatalog

/// Text order on PostgreSQL, for the tests of the `…:text-collate-c` migrations: which text
/// columns of a fleet store's schema compare otherwise than by bytes, and a store put back in the
/// state an older Stasis left on a database whose default collation is not C.
public enum CatalogCollation {
    /// A collation that orders otherwise than bytes ('a' < 'B', '_' < '-'): ICU's en-US, which
    /// PostgreSQL built with ICU (Debian's) always has.
    public static let enUS = "en-US-x-icu"

    /// `table.column` of each text column in the catalog's schema whose collation is not C (the
    /// migrator's own table left out).
    public static func textColumnsNotC(_ database: any CatalogDatabase) throws -> [String] {
        try database.read { db in
            try db.query("""
                SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns
                WHERE table_schema = current_schema() AND data_type = 'text' AND table_name <> 'stasis_migrations'
                  AND collation_name IS DISTINCT FROM 'C' ORDER BY 1, 2
                """, []).map { "\(try $0.text("t")).\(try $0.text("c"))" }
        }
    }

    /// Gives every text column of `tables` the collation `collation` and forgets `migrations`:
    /// what a Stasis before those migrations left on a database created with that collation.
    public static func makeOlder(_ database: any CatalogDatabase, tables: [String], forgetting migrations: [String],
                                 collation: String = enUS) throws {
        try database.write { db in
            let columns = try db.query("""
                SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns
                WHERE table_schema = current_schema() AND data_type = 'text' ORDER BY 1, 2
                """, []).map { (try $0.text("t"), try $0.text("c")) }.filter { tables.contains($0.0) }
            for (table, column) in columns {
                try db.execute("ALTER TABLE \(table) ALTER COLUMN \(column) TYPE TEXT COLLATE \"\(collation)\"", [])
            }
            for name in migrations { try db.execute("DELETE FROM stasis_migrations WHERE identifier = ?", name) }
        }
    }
}
