import GRPCCore
import StasisAPI
import StasisGraphStore
import StasisJSON

// Memory-store protobuf messages <-> library types. Only the shape is checked here (a
// missing op, a filter that is not a JSON object); the library checks the rest.

extension MemoryOp {
    init(_ op: Stasis_V1_MemoryOp, field: String) throws(RPCError) {
        switch op.op {
        case .get(let get):
            self = .get(MemoryGet(namespace: MemoryNamespace(get.namespace), key: get.key, refreshTTL: get.refreshTtl))
        case .put(let put):
            self = .put(MemoryPut(namespace: MemoryNamespace(put.namespace), key: put.key,
                                  valueJSON: put.delete ? nil : [UInt8](put.valueJson),
                                  ttlMinutes: put.hasTtlMinutes ? put.ttlMinutes : nil,
                                  vectors: put.vectors.map { (path: $0.path, values: $0.values) }))
        case .search(let search):
            var filter: [String: JSONValue] = [:]
            if !search.filterJson.isEmpty {
                guard let object = (try? JSONValue.parse([UInt8](search.filterJson)))?.objectValue else {
                    throw RPCError.invalid("\(field).search.filter_json", "must be a JSON object, e.g. {\"kind\": \"note\"}")
                }
                filter = object
            }
            self = .search(MemorySearch(prefix: MemoryNamespace(search.namespacePrefix), filter: filter, limit: Int(search.limit),
                                        offset: Int(search.offset), query: search.queryVector.isEmpty ? nil : search.queryVector,
                                        refreshTTL: search.refreshTtl))
        case .listNamespaces(let list):
            var match: [MemoryMatch] = []
            for (j, m) in list.match.enumerated() {
                switch m.kind {
                case .prefix: match.append(MemoryMatch(.prefix, m.path))
                case .suffix: match.append(MemoryMatch(.suffix, m.path))
                case .UNRECOGNIZED(let n):
                    throw RPCError.invalid("\(field).list_namespaces.match[\(j)].kind", "unknown value \(n); use PREFIX or SUFFIX")
                }
            }
            self = .listNamespaces(MemoryNamespaceQuery(match: match, maxDepth: list.hasMaxDepth ? Int(list.maxDepth) : nil,
                                                        limit: Int(list.limit), offset: Int(list.offset)))
        case nil:
            throw RPCError.invalid(field, "names no operation (get, put, search or list_namespaces)")
        }
    }
}

extension Stasis_V1_MemoryItem {
    init(_ item: MemoryItem) {
        self.init()
        namespace = item.namespace.labels
        key = item.key
        valueJson = .init(item.valueJSON)
        createdAt = item.createdAt
        updatedAt = item.updatedAt
        if let score = item.score { self.score = score }
    }
}

extension Stasis_V1_MemoryResult {
    init(_ result: MemoryResult) {
        self.init()
        switch result {
        case .item(let item?): self.item = .init(item)
        case .items(let items): self.items = .with { $0.items = items.map(Stasis_V1_MemoryItem.init) }
        case .namespaces(let list): self.namespaces = .with { $0.namespaces = list.map { ns in .with { $0.labels = ns.labels } } }
        case .item(nil), .none: break
        }
    }
}

extension Stasis_V1_MemoryBatchRequest {
    /// The values, vectors and names a batch carries.
    var payloadBytes: Int {
        ops.reduce(0) { total, op in
            switch op.op {
            case .put(let p): total + p.valueJson.count + p.key.utf8.count + p.vectors.reduce(0) { $0 + $1.values.count * 4 + $1.path.utf8.count }
            case .search(let s): total + s.filterJson.count + s.queryVector.count * 4
            default: total + 64
            }
        }
    }
}
