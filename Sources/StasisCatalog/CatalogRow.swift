/// One result row, by column name or position. Accessors convert between the engines' spellings
/// of the same value (an integer that PostgreSQL returns as text for a `count(*)` of `numeric`,
/// a blob that SQLite returns as text), and throw a `CatalogError` naming the column otherwise.
public struct CatalogRow: Sendable {
    public let columns: [String]
    public let values: [CatalogValue]

    public init(columns: [String], values: [CatalogValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(_ index: Int) -> CatalogValue { values[index] }

    public subscript(_ name: String) -> CatalogValue {
        guard let i = columns.firstIndex(of: name) else { return .null }
        return values[i]
    }

    public func isNull(_ column: String) -> Bool { self[column] == .null }

    public func int(_ column: String) throws(CatalogError) -> Int64 {
        guard let v = optionalInt(column) else { throw .badValue(column: column, expected: "an integer", found: self[column]) }
        return v
    }

    public func optionalInt(_ column: String) -> Int64? {
        switch self[column] {
        case .int(let v): return v
        case .double(let d): return Int64(exactly: d)
        case .text(let s): return Int64(s)
        default: return nil
        }
    }

    public func double(_ column: String) throws(CatalogError) -> Double {
        guard let v = optionalDouble(column) else { throw .badValue(column: column, expected: "a number", found: self[column]) }
        return v
    }

    public func optionalDouble(_ column: String) -> Double? {
        switch self[column] {
        case .double(let d): return d
        case .int(let v): return Double(v)
        case .text(let s): return Double(s)
        default: return nil
        }
    }

    public func text(_ column: String) throws(CatalogError) -> String {
        guard let v = optionalText(column) else { throw .badValue(column: column, expected: "text", found: self[column]) }
        return v
    }

    public func optionalText(_ column: String) -> String? {
        switch self[column] {
        case .text(let s): return s
        case .int(let v): return String(v)
        case .double(let d): return String(d)
        default: return nil
        }
    }

    public func blob(_ column: String) throws(CatalogError) -> [UInt8] {
        guard let v = optionalBlob(column) else { throw .badValue(column: column, expected: "bytes", found: self[column]) }
        return v
    }

    public func optionalBlob(_ column: String) -> [UInt8]? {
        switch self[column] {
        case .blob(let b): return b
        case .text(let s): return Array(s.utf8)
        default: return nil
        }
    }
}
