/// What went wrong in the catalog. The underlying engine error is kept as the cause; messages
/// name the catalog (its path or its endpoint, never a password) and say what to do.
public enum CatalogError: Error, Sendable, CustomStringConvertible {
    /// The database could not be reached or opened.
    case unavailable(catalog: String, detail: String, cause: (any Error)?)
    /// The connection was lost while a write transaction committed, and asking the server
    /// afterwards (`txid_status`) did not settle whether it did: its changes may or may not be
    /// in the catalog. Never reported as a plain failure, which a caller would take for "nothing
    /// was written", nor as success.
    case commitUnknown(catalog: String, detail: String, cause: (any Error)?)
    /// A statement failed.
    case statement(catalog: String, sql: String, detail: String, cause: (any Error)?)
    /// Another writer changed what this transaction read (PostgreSQL serialization failure):
    /// the caller may retry the whole transaction.
    case conflict(catalog: String, detail: String)
    /// A column held a value of another type than the code expects.
    case badValue(column: String, expected: String, found: CatalogValue)
    /// The catalog has migrations this code does not know: it was written by a newer Stasis.
    case newerSchema(catalog: String, layer: String, unknown: [String])
    /// A bad configuration value (a malformed URL, a missing variable).
    case configuration(field: String, message: String)
    /// An error raised inside a transaction body by the caller; passed through unchanged.
    case body(any Error)

    public var description: String {
        switch self {
        case .unavailable(let catalog, let detail, _):
            return "cannot reach the catalog at \(catalog): \(detail)"
        case .commitUnknown(let catalog, let detail, _):
            return "the connection to the catalog at \(catalog) was lost while a transaction committed, and whether it was committed is unknown (\(detail)): the operation may or may not have taken effect; look before repeating it"
        case .statement(let catalog, let sql, let detail, _):
            let short = sql.count > 120 ? String(sql.prefix(117)) + "..." : sql
            return "the catalog at \(catalog) refused a statement (\(short.replacingOccurrences(of: "\n", with: " "))): \(detail)"
        case .conflict(let catalog, let detail):
            return "another writer changed the catalog at \(catalog) meanwhile (\(detail)): try again"
        case .badValue(let column, let expected, let found):
            return "catalog column \(column) holds \(found), not \(expected): the catalog is damaged or was written by another program"
        case .newerSchema(let catalog, let layer, let unknown):
            return "the catalog at \(catalog) has \(layer) migrations this stasis does not know (\(unknown.joined(separator: ", "))): it was written by a newer stasis; upgrade stasis to use it"
        case .configuration(let field, let message):
            return "\(field): \(message)"
        case .body(let error):
            return "\(error)"
        }
    }

    /// The caller's own error, when the transaction failed because its body threw.
    public var bodyError: (any Error)? {
        if case .body(let e) = self { return e }
        return nil
    }
}
