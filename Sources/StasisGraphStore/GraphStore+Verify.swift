import Foundation
import StasisCatalog
import StasisStore

extension GraphStore {
    /// What `verify` found: values checked, and each damaged or missing one.
    public struct Verification: Sendable {
        public var values: Int
        public var problems: [(subject: String, message: String)]
    }

    /// Reassembles every stored value from its chunks (no cache), checking every chunk, node and
    /// listing against its id, and checks that every row's value exists. Changes nothing.
    public func verify() throws(GraphError) -> Verification {
        try read { db in
            var result = Verification(values: 0, problems: [])
            let uncached = ValueCache(budget: 0)
            let ids = try db.query("SELECT id FROM graph_values", []).map { try $0.blob("id") }
            for id in ids {
                result.values += 1
                do {
                    _ = try Self.loadCached(inline: nil, id: id, db, uncached, what: "value")
                } catch {
                    // Damage is a finding; a catalog that fails to answer ends the check.
                    guard case .corrupt = GraphError.from(error) else { throw error }
                    result.problems.append((subject: id.hex, message: GraphError.from(error).description))
                }
            }
            for (table, what) in [("graph_channel_values", "a channel value"), ("graph_writes", "a pending write")] {
                let rows = try db.query("""
                    SELECT thread_id, value_id FROM \(table) t WHERE value_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM graph_values v WHERE v.id = t.value_id)
                    """, [])
                for r in rows {
                    result.problems.append((subject: try r.blob("value_id").hex, message: "\(what) of thread \(try r.text("thread_id")) names a value that is not stored"))
                }
            }
            // Compressed rows decode (raw rows carry no check of their own), and every
            // checkpoint's channel versions decode: prune reads them to know what is live.
            try db.forEachRow("""
                SELECT thread_id, checkpoint_ns, checkpoint_id, checkpoint, checkpoint_encoding, versions, versions_encoding FROM graph_checkpoints
                """, []) { row in
                let key = try Self.key(row)
                do {
                    _ = try RowCompression.blob(row, "checkpoint", encoding: "checkpoint_encoding", what: "\(key)")
                    let versions = try RowCompression.blob(row, "versions", encoding: "versions_encoding", what: "\(key): its channel versions")
                    if GraphVersions.decode(versions) == nil { throw GraphError.corrupt("\(key): its channel versions do not decode") }
                } catch {
                    guard case .corrupt = GraphError.from(error) else { throw error }
                    result.problems.append((subject: "\(key)", message: GraphError.from(error).description))
                }
            }
            for (table, what) in [("graph_channel_values", "a channel value"), ("graph_writes", "a pending write")] {
                try db.forEachRow("SELECT thread_id, inline_value, inline_encoding FROM \(table) WHERE inline_encoding IS NOT NULL", []) { row in
                    let thread = try row.text("thread_id")
                    do {
                        _ = try RowCompression.inline(row, what: "\(what) of thread \(thread)")
                    } catch {
                        guard case .corrupt = GraphError.from(error) else { throw error }
                        result.problems.append((subject: "thread \(thread)", message: GraphError.from(error).description))
                    }
                }
            }
            for r in try db.query("""
                SELECT namespace, key, value_id FROM memory_items m WHERE value_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM graph_values v WHERE v.id = m.value_id)
                """, []) {
                result.problems.append((subject: try r.blob("value_id").hex,
                                        message: "memory \(try r.text("key")) in namespace \(try r.text("namespace")) names a value that is not stored"))
            }
            return result
        }
    }
}
