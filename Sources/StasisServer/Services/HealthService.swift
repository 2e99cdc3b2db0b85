import Foundation
import GRPCCore
import StasisAPI
import StasisGraphStore
import StasisRestore
import StasisSandbox
import StasisStore

/// Readiness and the store's state, cheap enough to poll.
struct HealthService: Stasis_V1_Health.SimpleServiceProtocol {
    let graph: GraphStore
    let sandboxes: SandboxService
    let tracker: CallTracker
    let started: Date
    let maxMessageBytes: Int
    static var daemonVersion: String { StasisRelease.version }

    func check(request: Stasis_V1_HealthCheckRequest, context: ServerContext) async throws -> Stasis_V1_HealthCheckResponse {
        let graph = self.graph, sandboxes = self.sandboxes
        var r = Stasis_V1_HealthCheckResponse()
        r.status = tracker.draining ? .draining : .serving
        r.daemonVersion = Self.daemonVersion
        r.storePath = graph.store.layout.root
        r.storeFormat = UInt32(Catalog.formatVersion)
        r.inFlightCalls = UInt32(max(0, tracker.inFlight - 1))
        r.uptimeSeconds = Date().timeIntervalSince(started)
        r.maxMessageBytes = UInt32(maxMessageBytes)
        let facts = try await Offload.run { () throws -> (Int, Int64, Int, GraphStore.Counts) in
            let (packs, bytes) = try graph.store.catalog.packTotals()
            // The sessions layer owns its table (created on first use): ask it, not the catalog.
            let sessions = try sandboxes.sessions.sessionCount()
            let counts: GraphStore.Counts
            counts = try graph.counts()
            return (packs, bytes + counts.storedBytes, sessions, counts)
        }
        r.packs = UInt64(facts.0)
        r.storeBytes = UInt64(facts.1)
        r.sessions = UInt64(facts.2)
        r.threads = UInt64(facts.3.threads)
        r.graphCheckpoints = UInt64(facts.3.checkpoints)
        r.chunks = UInt64(facts.3.chunks)
        r.runningSandboxes = UInt32(sandboxes.list().filter { $0.pid != nil }.count)
        let record = sandboxes.guestCache + "/accelerator"
        r.accelerator = ((try? String(contentsOfFile: record, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return r
    }
}
