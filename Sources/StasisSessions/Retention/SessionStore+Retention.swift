import Foundation
import StasisCatalog

/// What `prune` removed (or, in a dry run, would remove).
public struct PruneReport: Sendable, Codable {
    public var session: String
    public var kept: [String]
    public var removed: [String]
    public var dryRun: Bool
}

extension SessionStore {
    /// Sets (or, with an empty policy, clears) a session's retention policy.
    public func setRetention(_ sessionIDOrPrefix: String, _ policy: RetentionPolicy) throws(HistoryError) {
        let session = try resolveSession(sessionIDOrPrefix)
        for (name, value) in [("--keep-last", policy.keepLast), ("--keep-hourly", policy.keepHourly), ("--keep-daily", policy.keepDaily)] {
            if let value, value < 0 { throw .badArgument(field: name, message: "must be 0 or more") }
        }
        let text: String? = policy.isEmpty ? nil : policy.json.canonicalString
        try write { db in _ = try db.execute("UPDATE sessions SET retention = ? WHERE id = ?", text, session) }
    }

    /// Applies retention policies: to one session (with `policy`, or its own), or to every session
    /// that has one. Checkpoints that a kept checkpoint descends from are kept.
    public func prune(_ sessionIDOrPrefix: String? = nil, policy: RetentionPolicy? = nil, dryRun: Bool = false) throws(HistoryError) -> [PruneReport] {
        let targets: [SessionRecord]
        if let sessionIDOrPrefix { targets = [try session(sessionIDOrPrefix)] } else { targets = try sessions().filter { $0.retention != nil } }
        var reports: [PruneReport] = []
        for s in targets {
            guard let policy = policy ?? s.retention else {
                throw .badArgument(field: "session \(s.id)", message: "it has no retention policy: set one with `stasis session retention`, or pass --keep-* options")
            }
            let all = try checkpoints(s.id)
            var keep = policy.select(all)
            // Keep ancestors of kept checkpoints: others build on them.
            let parents = Dictionary(uniqueKeysWithValues: try read { db in
                try db.query("SELECT id, parent_id FROM checkpoints").map { (try $0.text("id"), $0.optionalText("parent_id")) }
            })
            var stack = Array(keep)
            while let id = stack.popLast() {
                if let p = parents[id] ?? nil, keep.insert(p).inserted { stack.append(p) }
            }
            // Keep checkpoints that other sessions build on.
            let foreignChildren = try read { db in
                try db.query("SELECT c.parent_id FROM checkpoints c WHERE c.session_id <> ? AND c.parent_id IN (SELECT id FROM checkpoints WHERE session_id = ?)", s.id, s.id)
                    .map { try $0.text("parent_id") }
            }
            keep.formUnion(foreignChildren)
            // Newest first, so that children go before their parents.
            let doomed = all.filter { !keep.contains($0.id) }.sorted { $0.record.createdAt > $1.record.createdAt }.map(\.id)
            if !dryRun {
                for id in doomed { try removeCheckpoint(id, cascade: false) }
            }
            reports.append(PruneReport(session: s.id, kept: all.map(\.id).filter { keep.contains($0) }, removed: doomed, dryRun: dryRun))
        }
        return reports
    }
}
