import StasisJSON

/// A batch checked whole before anything runs: every op's namespace, key, value, TTL, filter and
/// vectors, each error naming `ops[i]` and the field. Puts are reduced to the last one per key.
struct MemoryBatchPlan: Sendable {
    /// A put that passed the checks (`valueJSON` nil: delete the item).
    struct Put: Sendable {
        var namespace: MemoryNamespace
        var key: String
        var valueJSON: [UInt8]?
        var ttlMinutes: Double?
        var vectors: [(path: String, values: [Float])]
    }

    struct Search: Sendable {
        var op: MemorySearch
        var filter: MemoryFilter
    }

    enum Read: Sendable {
        case get(MemoryGet)
        case search(Search)
        case listNamespaces(MemoryNamespaceQuery)
        case put
    }

    var reads: [Read] = []
    var puts: [Put] = []

    static let maxKeyBytes = 1024

    init(_ ops: [MemoryOp], maxValueBytes: Int) throws(GraphError) {
        var lastPut: [MemoryKey: Int] = [:]
        for (i, op) in ops.enumerated() {
            let at = "ops[\(i)]"
            switch op {
            case .get(let get):
                try Self.check(get.namespace, field: "\(at).get.namespace")
                try Self.check(key: get.key, field: "\(at).get.key")
                reads.append(.get(get))
            case .search(let search):
                try Self.check(search.prefix, field: "\(at).search.namespace_prefix")
                let filter = try MemoryFilter(search.filter, field: "\(at).search.filter")
                guard search.limit >= 0, search.offset >= 0 else {
                    throw .invalidArgument(field: "\(at).search", reason: "limit and offset must be >= 0")
                }
                if let q = search.query {
                    guard !q.isEmpty, q.allSatisfy(\.isFinite) else {
                        throw .invalidArgument(field: "\(at).search.query_vector", reason: "must be a non-empty vector of finite numbers")
                    }
                }
                reads.append(.search(Search(op: search, filter: filter)))
            case .listNamespaces(let query):
                for (j, m) in query.match.enumerated() {
                    try Self.check(MemoryNamespace(m.path), field: "\(at).list_namespaces.match[\(j)].path")
                }
                if let d = query.maxDepth, d < 1 {
                    throw .invalidArgument(field: "\(at).list_namespaces.max_depth", reason: "must be at least 1")
                }
                guard query.limit >= 0, query.offset >= 0 else {
                    throw .invalidArgument(field: "\(at).list_namespaces", reason: "limit and offset must be >= 0")
                }
                reads.append(.listNamespaces(query))
            case .put(let put):
                let checked = try Self.check(put, field: "\(at).put", maxValueBytes: maxValueBytes)
                let key = MemoryKey(namespace: put.namespace.joined, key: put.key)
                if let earlier = lastPut[key] { puts[earlier] = checked } else {
                    lastPut[key] = puts.count
                    puts.append(checked)
                }
                reads.append(.put)
            }
        }
    }

    static func check(_ put: MemoryPut, field: String, maxValueBytes: Int) throws(GraphError) -> Put {
        try check(put.namespace, field: "\(field).namespace")
        guard !put.namespace.labels.isEmpty else {
            throw .invalidArgument(field: "\(field).namespace", reason: "must have at least one label")
        }
        try check(key: put.key, field: "\(field).key")
        guard let json = put.valueJSON else {
            return Put(namespace: put.namespace, key: put.key, valueJSON: nil, ttlMinutes: nil, vectors: [])
        }
        guard json.count <= maxValueBytes else {
            throw .invalidArgument(field: "\(field).value_json", reason: "\(json.count) bytes is more than this store's limit of \(maxValueBytes) bytes per value; keep large data elsewhere and store a reference")
        }
        do {
            guard case .object = try JSONValue.parse(json) else {
                throw GraphError.invalidArgument(field: "\(field).value_json", reason: "must be a JSON object (a dict)")
            }
        } catch let error as GraphError { throw error } catch {
            throw .invalidArgument(field: "\(field).value_json", reason: "\(error)")
        }
        if let ttl = put.ttlMinutes {
            guard ttl.isFinite, ttl > 0 else {
                throw .invalidArgument(field: "\(field).ttl_minutes", reason: "must be a positive number of minutes, not \(ttl); leave it out for an item that never expires")
            }
        }
        var paths = Set<String>()
        for (j, v) in put.vectors.enumerated() {
            let at = "\(field).vectors[\(j)]"
            guard !v.path.isEmpty, paths.insert(v.path).inserted else {
                throw .invalidArgument(field: "\(at).path", reason: v.path.isEmpty ? "must not be empty" : "\"\(v.path)\" is given twice")
            }
            guard !v.values.isEmpty, v.values.allSatisfy(\.isFinite) else {
                throw .invalidArgument(field: "\(at).values", reason: "must be a non-empty vector of finite numbers")
            }
            guard v.values.count == put.vectors[0].values.count else {
                throw .invalidArgument(field: "\(at).values", reason: "has \(v.values.count) dimensions, the item's first vector \(put.vectors[0].values.count)")
            }
        }
        return Put(namespace: put.namespace, key: put.key, valueJSON: json, ttlMinutes: put.ttlMinutes, vectors: put.vectors)
    }

    /// Labels are non-empty and hold neither '.' (the stored separator) nor NUL. "*" in a
    /// `list_namespaces` pattern is a wildcard; elsewhere it is a label like any other.
    static func check(_ ns: MemoryNamespace, field: String) throws(GraphError) {
        for (i, label) in ns.labels.enumerated() {
            if label.isEmpty { throw .invalidArgument(field: "\(field)[\(i)]", reason: "labels must not be empty") }
            if label.contains(".") { throw .invalidArgument(field: "\(field)[\(i)]", reason: "label \"\(label)\" contains '.'; labels cannot contain periods") }
            if label.utf8.contains(0) { throw .invalidArgument(field: "\(field)[\(i)]", reason: "labels cannot contain NUL bytes") }
        }
        guard ns.joined.utf8.count <= maxKeyBytes else {
            throw .invalidArgument(field: field, reason: "longer than \(maxKeyBytes) bytes when joined")
        }
    }

    static func check(key: String, field: String) throws(GraphError) {
        guard key.utf8.count <= maxKeyBytes else { throw .invalidArgument(field: field, reason: "longer than \(maxKeyBytes) bytes") }
        guard !key.utf8.contains(0) else { throw .invalidArgument(field: field, reason: "keys cannot contain NUL bytes") }
    }
}

/// An item's primary key.
struct MemoryKey: Hashable, Sendable {
    var namespace: String
    var key: String
}
