import StasisJSON

/// A memory's namespace: LangGraph's tuple of labels, e.g. `["users", "u1", "prefs"]`.
/// Stored as the labels joined by '.', which no label contains.
public struct MemoryNamespace: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var labels: [String]

    public init(_ labels: [String]) { self.labels = labels }

    var joined: String { labels.joined(separator: ".") }

    init(joined: String) { labels = joined.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }

    /// Python's tuple order: label by label, each by code point (UTF-8 byte order is the same).
    public static func < (a: MemoryNamespace, b: MemoryNamespace) -> Bool {
        a.labels.lexicographicallyPrecedes(b.labels) { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    public var description: String { "(" + labels.map { "\"\($0)\"" }.joined(separator: ", ") + ")" }
}

/// A stored memory, as a read returns it.
public struct MemoryItem: Sendable, Equatable {
    public var namespace: MemoryNamespace
    public var key: String
    /// The value's JSON object, byte for byte as it was put.
    public var valueJSON: [UInt8]
    public var createdAt: Double
    public var updatedAt: Double
    /// Cosine similarity to a search's query vector; nil outside such a search, or for an item
    /// without embeddings.
    public var score: Double?

    public init(namespace: MemoryNamespace, key: String, valueJSON: [UInt8], createdAt: Double, updatedAt: Double, score: Double? = nil) {
        self.namespace = namespace
        self.key = key
        self.valueJSON = valueJSON
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.score = score
    }
}

/// One operation of a batch (LangGraph's GetOp, PutOp, SearchOp, ListNamespacesOp).
public enum MemoryOp: Sendable {
    case get(MemoryGet)
    case put(MemoryPut)
    case search(MemorySearch)
    case listNamespaces(MemoryNamespaceQuery)
}

public struct MemoryGet: Sendable {
    public var namespace: MemoryNamespace
    public var key: String
    public var refreshTTL: Bool

    public init(namespace: MemoryNamespace, key: String, refreshTTL: Bool = true) {
        self.namespace = namespace
        self.key = key
        self.refreshTTL = refreshTTL
    }
}

public struct MemoryPut: Sendable {
    public var namespace: MemoryNamespace
    public var key: String
    /// The JSON object to store; nil deletes the item.
    public var valueJSON: [UInt8]?
    /// Minutes without a write (or a refreshing read) after which the item expires; nil: never.
    public var ttlMinutes: Double?
    /// The item's embeddings by field path (computed by the caller).
    public var vectors: [(path: String, values: [Float])]

    public init(namespace: MemoryNamespace, key: String, valueJSON: [UInt8]?, ttlMinutes: Double? = nil,
                vectors: [(path: String, values: [Float])] = []) {
        self.namespace = namespace
        self.key = key
        self.valueJSON = valueJSON
        self.ttlMinutes = ttlMinutes
        self.vectors = vectors
    }
}

public struct MemorySearch: Sendable {
    public var prefix: MemoryNamespace
    /// LangGraph's filter: field → value (equality) or {"$op": operand} (see `MemoryFilter`).
    public var filter: [String: JSONValue]
    public var limit: Int
    public var offset: Int
    /// With a query vector, items are ranked by cosine similarity (best of their embeddings).
    public var query: [Float]?
    public var refreshTTL: Bool

    public init(prefix: MemoryNamespace, filter: [String: JSONValue] = [:], limit: Int = 10, offset: Int = 0,
                query: [Float]? = nil, refreshTTL: Bool = true) {
        self.prefix = prefix
        self.filter = filter
        self.limit = limit
        self.offset = offset
        self.query = query
        self.refreshTTL = refreshTTL
    }
}

/// A namespace pattern of `list_namespaces`: its labels match the start (prefix) or the end
/// (suffix) of a namespace, "*" matching any one label.
public struct MemoryMatch: Sendable {
    public enum Kind: Sendable { case prefix, suffix }
    public var kind: Kind
    public var path: [String]

    public init(_ kind: Kind, _ path: [String]) {
        self.kind = kind
        self.path = path
    }

    func matches(_ ns: MemoryNamespace) -> Bool {
        guard ns.labels.count >= path.count else { return false }
        let labels = kind == .prefix ? Array(ns.labels.prefix(path.count)) : Array(ns.labels.suffix(path.count))
        return zip(labels, path).allSatisfy { $1 == "*" || $0 == $1 }
    }
}

public struct MemoryNamespaceQuery: Sendable {
    public var match: [MemoryMatch]
    public var maxDepth: Int?
    public var limit: Int
    public var offset: Int

    public init(match: [MemoryMatch] = [], maxDepth: Int? = nil, limit: Int = 100, offset: Int = 0) {
        self.match = match
        self.maxDepth = maxDepth
        self.limit = limit
        self.offset = offset
    }
}

/// One operation's answer: a get's item (nil: not found), a search's items, a listing's
/// namespaces, nothing for a put.
public enum MemoryResult: Sendable, Equatable {
    case item(MemoryItem?)
    case items([MemoryItem])
    case namespaces([MemoryNamespace])
    case none
}
