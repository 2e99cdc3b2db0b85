import StasisCatalog
import StasisJSON

extension MemoryStore {
    /// The answers to a batch's reads (puts answer `.none`), and the items whose TTL the reads
    /// restart. Expired items are invisible: they are as good as deleted until a sweep removes them.
    static func answer(_ plan: MemoryBatchPlan, now: Double, _ db: any CatalogConnection, _ cache: ValueCache) throws
        -> ([MemoryResult], [MemoryKey]) {
        var results: [MemoryResult] = []
        var refresh: [MemoryKey] = []
        for read in plan.reads {
            switch read {
            case .put:
                results.append(.none)
            case .get(let get):
                let row = try db.queryOne("""
                    SELECT \(itemColumns) FROM memory_items WHERE namespace = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)
                    """, get.namespace.joined, get.key, now)
                guard let row else {
                    results.append(.item(nil))
                    continue
                }
                if get.refreshTTL, !row.isNull("ttl_minutes") { refresh.append(MemoryKey(namespace: get.namespace.joined, key: get.key)) }
                results.append(.item(try item(row, db, cache)))
            case .search(let search):
                let items = try self.search(search, now: now, db, cache)
                if search.op.refreshTTL { refresh += items.filter(\.hasTTL).map(\.key) }
                results.append(.items(items.map(\.item)))
            case .listNamespaces(let query):
                results.append(.namespaces(try listNamespaces(query, now: now, db)))
            }
        }
        return (results, refresh)
    }

    /// Restarts the TTL of those items that have one and have not expired.
    static func refresh(_ keys: [MemoryKey], now: Double, _ db: any CatalogConnection) throws -> Int {
        var n = 0
        for k in Set(keys) {
            n += try db.execute("""
                UPDATE memory_items SET expires_at = ? + ttl_minutes * 60
                WHERE namespace = ? AND key = ? AND ttl_minutes IS NOT NULL AND expires_at > ?
                """, now, k.namespace, k.key, now)
        }
        return n
    }

    static let itemColumns = "namespace, key, inline_value, value_id, created_at, updated_at, ttl_minutes"

    static func item(_ row: CatalogRow, _ db: any CatalogConnection, _ cache: ValueCache, score: Double? = nil) throws -> MemoryItem {
        let namespace = MemoryNamespace(joined: try row.text("namespace"))
        let key = try row.text("key")
        let value = try GraphStore.loadCached(inline: row.optionalBlob("inline_value"), id: row.optionalBlob("value_id"), db, cache,
                                              what: "memory \(key) in \(namespace)").bytes
        return MemoryItem(namespace: namespace, key: key, valueJSON: value,
                          createdAt: try row.double("created_at"), updatedAt: try row.double("updated_at"), score: score)
    }

    /// The rows under a namespace prefix: the namespace itself and every namespace below it
    /// (labels never contain '.', and '/' is the byte after '.', so "p." ≤ ns < "p/" is "below p").
    static func prefixCondition(_ prefix: MemoryNamespace) -> (sql: String, arguments: [CatalogValue]) {
        guard !prefix.labels.isEmpty else { return ("", []) }
        let p = prefix.joined
        return (" AND (namespace = ? OR (namespace >= ? AND namespace < ?))", [.text(p), .text(p + "."), .text(p + "/")])
    }

    struct Found {
        var item: MemoryItem
        var key: MemoryKey
        var hasTTL: Bool
    }

    /// A search: the live items under the prefix that pass the filter, most recently updated
    /// first; with a query vector, ranked by their best cosine similarity instead, items without
    /// embeddings after those with them (as LangGraph's InMemoryStore does).
    static func search(_ s: MemoryBatchPlan.Search, now: Double, _ db: any CatalogConnection, _ cache: ValueCache) throws -> [Found] {
        let op = s.op
        let (condition, conditionArguments) = prefixCondition(op.prefix)
        var sql = "SELECT \(itemColumns) FROM memory_items WHERE (expires_at IS NULL OR expires_at > ?)\(condition) ORDER BY updated_at DESC, namespace, key"
        var arguments: [CatalogValue] = [.double(now)] + conditionArguments
        let narrowsInSQL = s.filter.conditions.isEmpty && op.query == nil
        if narrowsInSQL {
            sql += " LIMIT ? OFFSET ?"
            arguments += [.int(Int64(op.limit)), .int(Int64(op.offset))]
        }
        var found: [Found] = []
        for row in try db.query(sql, arguments) {
            let item = try item(row, db, cache)
            if !s.filter.conditions.isEmpty {
                guard case .object(let value)? = try? JSONValue.parse(item.valueJSON) else {
                    throw GraphError.corrupt("memory \(item.key) in \(item.namespace) is not a JSON object")
                }
                guard s.filter.matches(value) else { continue }
            }
            found.append(Found(item: item, key: MemoryKey(namespace: item.namespace.joined, key: item.key), hasTTL: !row.isNull("ttl_minutes")))
        }
        if narrowsInSQL { return found }
        guard let query = op.query else { return Array(found.dropFirst(op.offset).prefix(op.limit)) }
        return try rank(found, by: query, prefix: op.prefix, limit: op.limit, offset: op.offset, db)
    }

    static func rank(_ found: [Found], by query: [Float], prefix: MemoryNamespace, limit: Int, offset: Int,
                     _ db: any CatalogConnection) throws -> [Found] {
        let (condition, arguments) = prefixCondition(prefix)
        let wanted = Set(found.map(\.key))
        var best: [MemoryKey: Double] = [:]
        for row in try db.query("SELECT namespace, key, path, vector FROM memory_vectors WHERE 1 = 1\(condition)", arguments) {
            let key = MemoryKey(namespace: try row.text("namespace"), key: try row.text("key"))
            guard wanted.contains(key) else { continue }
            guard let vector = MemoryVectors.decode(try row.blob("vector")) else {
                throw GraphError.corrupt("embedding \(try row.text("path")) of memory \(key.key) in \(key.namespace) is damaged")
            }
            guard vector.count == query.count else {
                throw GraphError.invalidArgument(field: "search.query_vector", reason: "has \(query.count) dimensions, but memory \(key.key) in (\(key.namespace)) was embedded with \(vector.count): embed queries with the model the items were embedded with")
            }
            let score = MemoryVectors.cosine(query, vector)
            best[key] = max(best[key] ?? -.infinity, score)
        }
        var scored = found.filter { best[$0.key] != nil }
        scored.sort { a, b in
            let (x, y) = (best[a.key]!, best[b.key]!)
            return x != y ? x > y : (a.item.namespace, a.item.key) < (b.item.namespace, b.item.key)
        }
        var kept = scored.dropFirst(offset).prefix(limit).map { f -> Found in
            var f = f
            f.item.score = best[f.key]
            return f
        }
        if kept.count < limit {
            kept += found.filter { best[$0.key] == nil }.prefix(limit - kept.count)
        }
        return kept
    }

    /// The namespaces that hold live items and match every pattern, cut to `maxDepth` labels,
    /// without repeats, in Python's tuple order.
    static func listNamespaces(_ q: MemoryNamespaceQuery, now: Double, _ db: any CatalogConnection) throws -> [MemoryNamespace] {
        var out = Set<MemoryNamespace>()
        for row in try db.query("SELECT DISTINCT namespace FROM memory_items WHERE expires_at IS NULL OR expires_at > ?", now) {
            var ns = MemoryNamespace(joined: try row.text("namespace"))
            guard q.match.allSatisfy({ $0.matches(ns) }) else { continue }
            if let d = q.maxDepth { ns.labels = Array(ns.labels.prefix(d)) }
            out.insert(ns)
        }
        return Array(out.sorted().dropFirst(q.offset).prefix(q.limit))
    }
}
