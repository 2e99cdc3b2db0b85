import Foundation

/// Where a PostgreSQL catalog is and how to log in: from a URL
/// (`postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=disable|prefer|require`) with the libpq
/// variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`) filling what
/// the URL leaves out, as libpq does. The password is never part of `description`.
///
/// `?schema=NAME` puts the catalog's tables in one PostgreSQL schema, so that one database can
/// hold several stores (or a test run's many stores); without it they live in `public`.
public struct PostgresCatalogConfiguration: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable { case disable, prefer, require }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// Connections kept open per process.
    public var maxConnections: Int
    /// The PostgreSQL schema holding the tables (nil: the user's default search path).
    public var schema: String?
    /// How long a write whose COMMIT got no answer keeps asking the server whether it committed
    /// (seconds) before it reports the outcome as unknown.
    public var settleTimeout: Double = 10

    public init(host: String, port: Int = 5432, user: String, password: String?, database: String, tls: TLSMode = .disable,
                maxConnections: Int = 8, schema: String? = nil) {
        self.host = host; self.port = port; self.user = user; self.password = password
        self.database = database; self.tls = tls; self.maxConnections = maxConnections; self.schema = schema
    }

    /// `postgres://user@host:port/database[?schema=NAME]` — safe to print, log and store: the
    /// password is never part of it.
    public var description: String {
        let base = "postgres://\(user)@\(host):\(port)/\(database)"
        var query: [String] = []
        if let schema { query.append("schema=\(schema)") }
        if tls != .disable { query.append("sslmode=\(tls.rawValue)") }
        return query.isEmpty ? base : base + "?" + query.joined(separator: "&")
    }

    /// Whether `name` is a schema name Stasis accepts: lower-case letters, digits and `_`, not
    /// starting with a digit, at most 63 bytes (so it never needs quoting).
    public static func isValidSchemaName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 63, !(48...57).contains(first) else { return false }
        return name.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 95 }
    }

    /// Parses a URL, taking missing parts from `environment` (the caller passes the process's
    /// environment; the library never reads it itself).
    public static func parse(_ url: String?, environment: [String: String] = [:]) throws(CatalogError) -> PostgresCatalogConfiguration {
        var host = environment["PGHOST"], port = environment["PGPORT"].flatMap { Int($0) }
        var user = environment["PGUSER"], password = environment["PGPASSWORD"], database = environment["PGDATABASE"]
        var sslmode = environment["PGSSLMODE"]
        var schema: String?
        if let url {
            guard let c = URLComponents(string: url), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme) else {
                throw .configuration(field: "catalog URL", message: "'\(Self.redact(url))' is not a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL")
            }
            if let h = c.host, !h.isEmpty { host = h }
            if let p = c.port { port = p }
            if let u = c.user, !u.isEmpty { user = u.removingPercentEncoding ?? u }
            if let p = c.password { password = p.removingPercentEncoding ?? p }
            let path = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
            if !path.isEmpty { database = path }
            if let mode = c.queryItems?.first(where: { $0.name == "sslmode" })?.value { sslmode = mode }
            if let name = c.queryItems?.first(where: { $0.name == "schema" })?.value {
                guard isValidSchemaName(name) else {
                    throw .configuration(field: "catalog URL", message: "schema '\(name)' is not a plain name (a-z, 0-9 and _, not starting with a digit, at most 63 bytes)")
                }
                schema = name
            }
        }
        guard let host, !host.isEmpty else {
            throw .configuration(field: "catalog URL", message: "no host: give postgres://USER@HOST/DATABASE or set PGHOST")
        }
        guard let user, !user.isEmpty else {
            throw .configuration(field: "catalog URL", message: "no user: give postgres://USER@HOST/DATABASE or set PGUSER")
        }
        let tls: TLSMode
        switch sslmode ?? "disable" {
        case "disable", "allow": tls = .disable
        case "prefer": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require
        case let other: throw .configuration(field: "sslmode", message: "'\(other)' is not one of disable, prefer, require")
        }
        return PostgresCatalogConfiguration(host: host, port: port ?? 5432, user: user, password: password,
                                            database: database ?? user, tls: tls, schema: schema)
    }

    /// A URL with its password replaced, for messages about a URL that could not be parsed.
    static func redact(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@"), let scheme = url.range(of: "://"), scheme.upperBound < at else { return url }
        let credentials = url[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }
}
