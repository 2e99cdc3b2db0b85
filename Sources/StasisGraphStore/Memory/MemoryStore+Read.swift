import StasisCatalog
import StasisJSON

extension MemoryStore {
    /// The answers to a batch's reads (puts answer `.none`), and the items whose TTL the reads
    /// restart. Expired items are invisible: they are as good as deleted until a sweep removes them.
    static func answer(_ plan: MemoryBatchPlan, now: Double, _ db: any CatalogConnection, _ cache: ValueCache) throws
        -> ([MemoryResult], [MemoryKey]) {
        var results: [MemoryResult] = []
        var refresh: [MemoryKey] = []
        let gotten = try rows(of: plan.reads.compactMap { read -> MemoryKey? in
            guard case .get(let get) = read else { return nil }
            return MemoryKey(namespace: get.namespace.joined, key: get.key)
        }, now: now, db)
        for read in plan.reads {
            switch read {
            case .put:
                results.append(.none)
            case .get(let get):
                let key = MemoryKey(namespace: get.namespace.joined, key: get.key)
                guard let row = gotten[key] else {
                    results.append(.item(nil))
                    continue
                }
                if get.refreshTTL, !row.isNull("ttl_minutes") { refresh.append(key) }
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

    /// The live rows of these keys, read in as few statements as possible (one per 100 keys): a
    /// batch of gets from many concurrent tasks costs one round trip, not one per get.
    static func rows(of keys: [MemoryKey], now: Double, _ db: any CatalogConnection) throws -> [MemoryKey: CatalogRow] {
        var out: [MemoryKey: CatalogRow] = [:]
        let unique = Array(Set(keys))
        for start in stride(from: 0, to: unique.count, by: 100) {
            let part = unique[start..<min(start + 100, unique.count)]
            let wanted = Array(repeating: "(namespace = ? AND key = ?)", count: part.count).joined(separator: " OR ")
            let arguments: [CatalogValue] = [.double(now)] + part.flatMap { [CatalogValue.text($0.namespace), .text($0.key)] }
            for row in try db.query("SELECT \(itemColumns) FROM memory_items WHERE (expires_at IS NULL OR expires_at > ?) AND (\(wanted))", arguments) {
                out[MemoryKey(namespace: try row.text("namespace"), key: try row.text("key"))] = row
            }
        }
        return out
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
    ///
    /// The filter runs in SQL (`MemoryFilterSQL`), so a search without a query reads about
    /// `offset + limit` rows. Rows SQL cannot decide (values stored in chunks, values holding a
    /// NUL escape, filter parts SQL cannot say) come back as candidates and are confirmed here;
    /// when some are refused, the next page of candidates is read.
    static func search(_ s: MemoryBatchPlan.Search, now: Double, _ db: any CatalogConnection, _ cache: ValueCache) throws -> [Found] {
        let op = s.op
        // Clamped so that a caller's huge limit cannot overflow the sum.
        let wanted = op.query == nil ? min(op.offset, Int.max / 4) + min(op.limit, Int.max / 4) : Int.max
        var found: [Found] = []
        var matched = 0
        var consumed = 0
        let pageSize = max(16, op.query == nil ? wanted : 256)
        let single = try holdsNoNamespaceBelow(op.prefix, db)
        while matched < wanted {
            let (sql, arguments) = candidates(s, now: now, engine: db.engine, singleNamespace: single, limit: pageSize, offset: consumed)
            let rows = try db.query(sql.text, arguments)
            consumed += rows.count
            for row in rows where matched < wanted {
                if try !confirmed(row, s.filter, exact: sql.exact, db, cache) { continue }
                matched += 1
                if op.query == nil, matched <= op.offset { continue }
                let item = try item(row, db, cache)
                found.append(Found(item: item, key: MemoryKey(namespace: item.namespace.joined, key: item.key), hasTTL: !row.isNull("ttl_minutes")))
            }
            if rows.count < pageSize { break }
        }
        guard let query = op.query else { return found }
        return try rank(found, by: query, prefix: op.prefix, limit: op.limit, offset: op.offset, db)
    }

    /// Whether no namespace lies below `prefix` (one index probe): its search then reads one
    /// namespace, along `memory_items_by_update`, newest first, and stops at its limit.
    static func holdsNoNamespaceBelow(_ prefix: MemoryNamespace, _ db: any CatalogConnection) throws -> Bool {
        guard !prefix.labels.isEmpty else { return false }
        let p = prefix.joined
        return try db.queryOne("SELECT 1 AS below FROM memory_items WHERE namespace >= ? AND namespace < ? LIMIT 1", p + ".", p + "/") == nil
    }

    /// The statement reading one page of a search's candidates, newest first (`singleNamespace`:
    /// the prefix is the only namespace that holds items).
    static func candidates(_ s: MemoryBatchPlan.Search, now: Double, engine: CatalogEngine, singleNamespace: Bool, limit: Int, offset: Int)
        -> (sql: CandidateSQL, arguments: [CatalogValue]) {
        let (prefix, prefixArguments) = singleNamespace
            ? (" AND namespace = ?", [CatalogValue.text(s.op.prefix.joined)]) : prefixCondition(s.op.prefix)
        let live = "(expires_at IS NULL OR expires_at > ?)\(prefix)"
        var arguments: [CatalogValue] = [.double(now)] + prefixArguments
        // Within one namespace the order is the index's own.
        let order = (singleNamespace ? " ORDER BY updated_at DESC, key" : " ORDER BY updated_at DESC, namespace, key") + " LIMIT ? OFFSET ?"
        guard !s.filter.conditions.isEmpty else {
            return (CandidateSQL(text: "SELECT \(itemColumns) FROM memory_items WHERE \(live)\(order)", exact: true),
                    arguments + [.int(Int64(limit)), .int(Int64(offset))])
        }
        let filter = MemoryFilterSQL(s.filter, engine: engine)
        let sql: String
        if engine == .sqlite {
            sql = """
                SELECT \(itemColumns) FROM memory_items WHERE \(live) AND (CASE WHEN inline_value IS NULL OR instr(inline_value, X'5C7530303030') > 0
                    THEN 1 ELSE \(filter.sql) END)\(order)
                """
        } else {
            // OFFSET 0 keeps the subquery whole, so that each row's JSON is parsed once.
            sql = """
                SELECT \(itemColumns) FROM (SELECT \(itemColumns), CASE WHEN inline_value IS NULL OR position('\\x5c7530303030'::bytea IN inline_value) > 0
                    THEN NULL ELSE convert_from(inline_value, 'UTF8')::jsonb END AS doc FROM memory_items WHERE \(live) OFFSET 0) i
                WHERE (doc IS NULL OR \(filter.sql))\(order)
                """
        }
        arguments += filter.arguments + [.int(Int64(limit)), .int(Int64(offset))]
        return (CandidateSQL(text: sql, exact: filter.exact), arguments)
    }

    struct CandidateSQL {
        var text: String
        /// The statement's filter decides every row whose value is inline and free of NUL escapes.
        var exact: Bool
    }

    /// Whether a candidate row passes the filter: decided by SQL when it could, else here.
    static func confirmed(_ row: CatalogRow, _ filter: MemoryFilter, exact: Bool, _ db: any CatalogConnection, _ cache: ValueCache) throws -> Bool {
        if filter.conditions.isEmpty { return true }
        let inline = try row.optionalBlob("inline_value")
        if exact, let inline, !inline.containsNULEscape { return true }
        let namespace = MemoryNamespace(joined: try row.text("namespace"))
        let key = try row.text("key")
        let json = try GraphStore.loadCached(inline: inline, id: row.optionalBlob("value_id"), db, cache,
                                             what: "memory \(key) in \(namespace)").bytes
        guard case .object(let value)? = try? JSONValue.parse(json) else {
            throw GraphError.corrupt("memory \(key) in \(namespace) is not a JSON object")
        }
        return filter.matches(value)
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

private extension Array where Element == UInt8 {
    /// Holds the JSON escape `\u0000`, which PostgreSQL's JSONB refuses: such values are filtered here.
    var containsNULEscape: Bool {
        let escape = Array("\\u0000".utf8)
        guard count >= escape.count else { return false }
        return withUnsafeBufferPointer { b in
            var i = 0
            while i + escape.count <= b.count {
                if b[i] == 0x5C, b[i + 1] == 0x75, b[i + 2] == 0x30, b[i + 3] == 0x30, b[i + 4] == 0x30, b[i + 5] == 0x30 { return true }
                i += 1
            }
            return false
        }
    }
}
