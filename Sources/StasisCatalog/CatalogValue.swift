/// A value bound to, or read from, a catalog statement: the types both engines store the same way.
/// (SQLite's INTEGER/REAL/TEXT/BLOB; PostgreSQL's BIGINT/DOUBLE PRECISION/TEXT/BYTEA.)
public enum CatalogValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])
}

extension CatalogValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(floatLiteral value: Double) { self = .double(value) }
}

/// Types that bind as a catalog value.
public protocol CatalogBindable {
    var catalogValue: CatalogValue { get }
}

extension Int64: CatalogBindable { public var catalogValue: CatalogValue { .int(self) } }
extension Int: CatalogBindable { public var catalogValue: CatalogValue { .int(Int64(self)) } }
extension Int32: CatalogBindable { public var catalogValue: CatalogValue { .int(Int64(self)) } }
extension Double: CatalogBindable { public var catalogValue: CatalogValue { .double(self) } }
extension String: CatalogBindable { public var catalogValue: CatalogValue { .text(self) } }
extension Bool: CatalogBindable { public var catalogValue: CatalogValue { .int(self ? 1 : 0) } }
extension Array: CatalogBindable where Element == UInt8 { public var catalogValue: CatalogValue { .blob(self) } }
extension CatalogValue: CatalogBindable { public var catalogValue: CatalogValue { self } }
extension Optional: CatalogBindable where Wrapped: CatalogBindable {
    public var catalogValue: CatalogValue { self?.catalogValue ?? .null }
}
