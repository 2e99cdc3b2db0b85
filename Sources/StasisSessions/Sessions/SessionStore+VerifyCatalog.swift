import Foundation
import StasisCatalog
import StasisStore

/// What `stasis verify` found in the session layer's tables.
public struct SessionCatalogReport: Sendable {
    public var checkpoints = 0
    public var histories = 0
    /// Kinds: `store-key`, `damaged-checkpoint`, `orphan-checkpoint`, `orphan-reference`,
    /// `damaged-history`, `orphan-history`.
    public var problems: [VerifyReport.Problem] = []
}

extension SessionStore {
    /// Checks what the session tables claim, trusting none of it: the catalog's public key is the
    /// key file's; every checkpoint (`checkpointDamage`: record hash, signature, catalog row,
    /// `checkpoint_refs`, images and blobs) belongs to an existing session; no reference or event
    /// belongs to a checkpoint or session that does not exist; with `histories`, every session's
    /// history is re-verified (`verifyHistory`). Each damaged object is named; nothing changes.
    public func verifyCatalog(histories: Bool) throws(HistoryError) -> SessionCatalogReport {
        var report = SessionCatalogReport()
        func problem(_ kind: String, _ subject: String, _ message: String) {
            report.problems.append(.init(kind: kind, subject: subject, message: message))
        }
        let keyPath = store.layout.keyPath
        var keyUsable = true
        do throws(HistoryError) {
            let key = try publicKey()
            let listed = try HistoryError.wrap { () throws(StoreError) in try store.catalog.meta("public_key") }
            if listed != key {
                problem("store-key", "store_meta.public_key",
                        "the catalog lists public key \(listed ?? "none") but the key file \(keyPath) holds \(key): the catalog was edited (bundles exported now would name the wrong key)")
            }
        } catch {
            keyUsable = false
            problem("store-key", keyPath, "\(error.description); checkpoint signatures and history heads were not checked")
        }

        let (ids, orphanCheckpoints, orphanRefs, orphanEvents, sessions) = try read { db in
            (try db.query("SELECT id FROM checkpoints ORDER BY id").map { $0.shown("id") },
             try db.query("SELECT id, session_id FROM checkpoints WHERE session_id NOT IN (SELECT id FROM sessions) ORDER BY id")
                .map { ($0.shown("id"), $0.shown("session_id")) },
             try db.query("SELECT checkpoint_id, name, target FROM checkpoint_refs WHERE checkpoint_id NOT IN (SELECT id FROM checkpoints) ORDER BY checkpoint_id, name")
                .map { ($0.shown("checkpoint_id"), $0.shown("name"), $0.shown("target")) },
             try db.query("SELECT DISTINCT session_id FROM events WHERE session_id NOT IN (SELECT id FROM sessions) ORDER BY session_id").map { $0.shown("session_id") },
             try db.query("SELECT id FROM sessions ORDER BY id").map { $0.shown("id") })
        }
        report.checkpoints = ids.count
        if keyUsable {
            for id in ids {
                let damage = try checkpointDamage(id)
                if !damage.isEmpty {
                    problem("damaged-checkpoint", id, damage.map(\.description).joined(separator: "; "))
                }
            }
        }
        for (id, session) in orphanCheckpoints {
            problem("orphan-checkpoint", id, "checkpoint \(id) belongs to session \(session), which does not exist")
        }
        for (checkpoint, name, target) in orphanRefs {
            problem("orphan-reference", checkpoint, "checkpoint_refs holds \(name)=\(target) for checkpoint \(checkpoint), which does not exist (it keeps \(target) from being removed)")
        }
        for session in orphanEvents {
            problem("orphan-history", session, "the history of session \(session) is stored, but the session does not exist")
        }
        let idSet = Set(ids)
        if histories && keyUsable {
            for session in sessions {
                report.histories += 1
                let r = try verifyHistory(session)
                // Checkpoint damage is already reported once, per checkpoint, above.
                for p in r.problems {
                    let named = String(p.dropFirst("checkpoint ".count).prefix(64))
                    if p.hasPrefix("checkpoint "), idSet.contains(named), p.dropFirst("checkpoint ".count + 64).hasPrefix(": ") { continue }
                    problem("damaged-history", session, "session \(session): \(p)")
                }
            }
        }
        return report
    }
}
