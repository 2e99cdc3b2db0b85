import Foundation
import GRDB
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
            let ids = try Data.fetchAll(db, sql: "SELECT id FROM graph_values")
            for id in ids {
                result.values += 1
                do {
                    _ = try Self.loadCached(inline: nil, id: id, db, uncached, what: "value")
                } catch let error as GraphError {
                    result.problems.append((subject: [UInt8](id).hex, message: error.description))
                }
            }
            for (table, what) in [("graph_channel_values", "a channel value"), ("graph_writes", "a pending write")] {
                let rows = try Row.fetchAll(db, sql: """
                    SELECT thread_id, value_id FROM \(table) t WHERE value_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM graph_values v WHERE v.id = t.value_id)
                    """)
                for r in rows {
                    result.problems.append((subject: [UInt8](r[1] as Data).hex, message: "\(what) of thread \(r[0] as String) names a value that is not stored"))
                }
            }
            return result
        }
    }
}
