import Foundation
import StasisCatalog

/// Which host runs a session's sandbox. On one host the sandbox directories say it; hosts of a
/// fleet store see each other only through the catalog, so a sandbox claims its session there
/// when it starts and releases it when it stops or pauses — and a second host cannot start the
/// same session meanwhile (two VMs appending to one history).
public struct SandboxClaim: Sendable, Codable, Equatable {
    public var session: String
    public var sandbox: String
    /// `HOSTNAME:STORE-DIRECTORY` of the host that runs it.
    public var host: String
    public var claimedAt: Date
}

extension SessionStore {
    /// This host as claims name it: its name and its store directory (two hosts may share a name,
    /// e.g. containers or network namespaces of one machine; never a directory).
    public var claimHost: String { ProcessInfo.processInfo.hostName + ":" + store.layout.root }

    /// Claims `session` for `sandbox` on this host. A claim by another sandbox is refused
    /// (naming its host) unless `takeOver` says that host is gone.
    public func claimSandbox(session: String, sandbox: String, takeOver: Bool = false) throws(HistoryError) {
        try write { db in
            if let row = try db.queryOne("SELECT sandbox_id, host, claimed_at FROM sandbox_claims WHERE session_id = ?", session) {
                let holder = try row.text("sandbox_id"), host = try row.text("host")
                if holder != sandbox && !takeOver {
                    let since = Date(timeIntervalSince1970: try row.double("claimed_at"))
                    throw HistoryError.badArgument(field: "session \(session)", message: "it runs sandbox \(holder) on host \(host) since \(since): pause or stop it there first (or, if that host is gone for good, resume with --take-over)")
                }
            }
            try db.execute("""
                INSERT INTO sandbox_claims(session_id, sandbox_id, host, claimed_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (session_id) DO UPDATE SET sandbox_id = excluded.sandbox_id, host = excluded.host, claimed_at = excluded.claimed_at
                """, session, sandbox, claimHost, Date().timeIntervalSince1970)
        }
    }

    /// Releases `sandbox`'s claim on `session` (nothing if another sandbox holds it now).
    public func releaseSandbox(session: String, sandbox: String) throws(HistoryError) {
        try write { db in try db.execute("DELETE FROM sandbox_claims WHERE session_id = ? AND sandbox_id = ?", session, sandbox) }
    }

    /// Every session some host runs a sandbox for.
    public func sandboxClaims() throws(HistoryError) -> [SandboxClaim] {
        try read { db in
            try db.query("SELECT session_id, sandbox_id, host, claimed_at FROM sandbox_claims ORDER BY session_id", []).map { (row) throws(CatalogError) in
                SandboxClaim(session: try row.text("session_id"), sandbox: try row.text("sandbox_id"), host: try row.text("host"),
                             claimedAt: Date(timeIntervalSince1970: try row.double("claimed_at")))
            }
        }
    }
}
