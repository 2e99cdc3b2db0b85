import Foundation

/// A store's catalog edited and read with the engine's own tool, as an attacker with write access
/// to it would: `sqlite3` on the catalog file, or `psql` in a fleet store's schema (its URL from
/// the store's descriptor, the password from PGPASSWORD).
enum CatalogShell {
    /// Runs one statement; `postgres` is the statement in PostgreSQL's dialect where it differs.
    static func run(_ store: String, _ statement: String, postgres: String? = nil) throws -> StasisProcess.Result {
        if let (url, schema) = fleetCatalog(store) {
            return try StasisProcess.runShell("psql '\(url)' -X -q -At -v ON_ERROR_STOP=1 -c 'SET search_path TO \(schema)' -c \"\(postgres ?? statement)\"")
        }
        return try StasisProcess.runShell("sqlite3 '\(store)/catalog.sqlite' \"\(statement)\"")
    }

    /// The catalog's contents as SQL text (independent of WAL and page layout).
    static func dump(_ store: String) throws -> String {
        guard let (url, schema) = fleetCatalog(store) else { return try run(store, ".dump").stdout }
        let text = try StasisProcess.runShell("pg_dump '\(url)' --data-only --schema=\(schema) --no-owner").stdout
        // Without the \\restrict and \\unrestrict lines: their token is new on every run.
        return text.split(separator: "\n").filter { !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict") }.joined(separator: "\n")
    }

    /// A fleet store's catalog as a libpq URL without the schema, and the schema; nil for a store
    /// with its catalog in its directory.
    static func fleetCatalog(_ store: String) -> (String, String)? {
        guard let data = FileManager.default.contents(atPath: store + "/store.json"),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let catalog = json["catalog"] as? String, let components = URLComponents(string: catalog) else { return nil }
        let schema = components.queryItems?.first { $0.name == "schema" }?.value ?? "public"
        var plain = components
        plain.queryItems = nil
        return (plain.string!, schema)
    }
}
