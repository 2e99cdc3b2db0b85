import ArgumentParser
import Dispatch
import Foundation
import StasisCatalog
import StasisJSON
import StasisSessions
import StasisStore

/// `stasis-bench history`: the history log's speed, through the library API the CLI and daemon use.
/// Appends N small events with one writer in batches, M events from W concurrent writers (each with
/// its own store handle, like separate processes) to one session, then times `last 100`, a full
/// `verifyHistory`, and inclusion proofs. Prints one JSON line per measurement, each with the
/// catalog engine it ran on.
///
/// With `--catalog postgres://…?schema=NAME --objects s3://…` the store is a fleet store (the
/// credentials from `PGPASSWORD` and `AWS_*`, as `stasis init` takes them); its schema is dropped
/// afterwards. There the verify is also taken apart: the server's own time for the statement
/// (`EXPLAIN ANALYZE`), and the same rows fetched and decoded through the catalog with nothing
/// checked, so that the rest is the verifier's own work.
struct HistoryBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "History append / show / verify / prove benchmark.")

    @Option(help: "Events appended by one writer.") var events = 1_000_000
    @Option(help: "Events per append transaction.") var batch = 1000
    @Option(help: "Events appended by the concurrent writers in all.") var concurrentEvents = 100_000
    @Option(help: "Concurrent writers.") var writers = 8
    @Option(help: "Repetitions of the short measurements (medians are printed).") var repeats = 21
    @Option(help: "Work directory (default: a temporary one, removed afterwards).") var work: String?
    @Option(help: "A PostgreSQL catalog URL with ?schema=NAME (a fleet store; the schema is dropped afterwards).") var catalog: String?
    @Option(help: "The fleet store's objects (s3://BUCKET/PREFIX or file:///DIR), with --catalog.") var objects: String?

    func run() throws {
        let dir = work ?? NSTemporaryDirectory() + "stasis-history-bench-" + UUID().uuidString.prefix(8)
        defer { if work == nil { try? FileManager.default.removeItem(atPath: dir) } }
        let backends: StoreBackends
        var schema: String?
        if let catalog {
            guard let objects else { throw ValidationError("--catalog needs --objects") }
            let configuration = try PostgresCatalogConfiguration.parse(catalog, environment: ProcessInfo.processInfo.environment)
            guard configuration.schema != nil else { throw ValidationError("--catalog needs ?schema=NAME: the benchmark drops it afterwards") }
            schema = configuration.schema
            backends = .shared(catalog: configuration, objects: objects)
        } else {
            backends = .embedded
        }
        let store = try ContentStore.create(at: dir + "/store", backends: backends)
        defer {
            if let schema { _ = try? store.catalog.database.write { db in try db.execute("DROP SCHEMA \(schema) CASCADE", []) } }
        }
        let engine = store.catalog.database.engine
        func emit(_ o: [String: JSONValue]) throws {
            var o = o
            o["engine"] = .string(engine.rawValue)
            try self.emit(o)
        }
        let sessions = SessionStore(store: store)
        let s = try sessions.createSession().id

        @Sendable func event(_ i: Int) -> EventInput {
            switch i % 4 {
            case 0: return EventInput(kind: .commandStarted, data: ["command": .string("pytest -k test_\(i)")])
            case 1: return EventInput(kind: .output, data: ["stream": "stdout", "data": .string("ok \(i)\n")])
            case 2: return EventInput(kind: .commandExited, data: ["code": 0, "duration_ms": .int(Int64(i % 997))])
            default: return EventInput(kind: .toolCall, data: ["name": "read_file", "arguments": ["path": .string("/src/f\(i).py")]])
            }
        }

        // 1. One writer.
        var t0 = Date()
        var done = 0
        while done < events {
            let n = min(batch, events - done)
            try sessions.append(s, (done..<done + n).map(event))
            done += n
            if done % 100_000 == 0 { FileHandle.standardError.write(Data("\rappended \(done)".utf8)) }
        }
        let appendSeconds = Date().timeIntervalSince(t0)
        FileHandle.standardError.write(Data("\n".utf8))
        try emit(["measure": "append-one-writer", "events": .int(Int64(events)), "batch": .int(Int64(batch)),
                  "seconds": .double(appendSeconds), "events_per_s": .double(Double(events) / appendSeconds)])

        // 2. Concurrent writers to one new session, each with its own store handle.
        let shared = try sessions.createSession().id
        let perWriter = concurrentEvents / writers
        let smallBatch = max(1, min(batch, perWriter / 10))
        let failures = MutexCounter()
        t0 = Date()
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            do {
                let mine = SessionStore(store: try ContentStore.open(at: dir + "/store"))
                var k = 0
                while k < perWriter {
                    let n = min(smallBatch, perWriter - k)
                    try mine.append(shared, (0..<n).map { event(w * perWriter + k + $0) })
                    k += n
                }
            } catch {
                FileHandle.standardError.write(Data("writer \(w): \(error)\n".utf8))
                failures.add()
            }
        }
        let concurrentSeconds = Date().timeIntervalSince(t0)
        try emit(["measure": "append-concurrent", "events": .int(Int64(perWriter * writers)), "writers": .int(Int64(writers)),
                  "batch": .int(Int64(smallBatch)), "seconds": .double(concurrentSeconds),
                  "events_per_s": .double(Double(perWriter * writers) / concurrentSeconds), "failures": .int(Int64(failures.value))])

        // 3. Last 100 of the big session.
        var times: [Double] = []
        for _ in 0..<repeats {
            let t = Date()
            let last = try sessions.events(s, EventQuery(last: 100))
            times.append(Date().timeIntervalSince(t))
            precondition(last.count == 100)
        }
        try emit(["measure": "show-last-100", "events": .int(Int64(events)), "median_ms": .double(median(times) * 1000)])

        // 4. Verify the whole big session.
        t0 = Date()
        let v = try sessions.verifyHistory(s)
        let verifySeconds = Date().timeIntervalSince(t0)
        try emit(["measure": "verify", "events": .int(v.events), "ok": .bool(v.ok), "seconds": .double(verifySeconds),
                  "events_per_s": .double(Double(v.events) / verifySeconds)])
        if engine == .postgres { try verifyBreakdown(store, session: s, verifySeconds: verifySeconds, emit: emit) }
        let vc = try sessions.verifyHistory(shared)
        try emit(["measure": "verify-concurrent-session", "events": .int(vc.events), "ok": .bool(vc.ok)])

        // 5. Inclusion proofs (against the current head: no checkpoint yet), then against a checkpoint.
        var proofTimes: [Double] = []
        var pathLength = 0, proofBytes = 0
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<repeats {
            let seq = Int64.random(in: 0..<Int64(events), using: &rng)
            let t = Date()
            let p = try sessions.prove(s, seq: seq)
            proofTimes.append(Date().timeIntervalSince(t))
            precondition(p.verified)
            pathLength = p.path.count
            proofBytes = p.path.count * 32
        }
        try emit(["measure": "prove", "events": .int(Int64(events)), "median_ms": .double(median(proofTimes) * 1000),
                  "path_hashes": .int(Int64(pathLength)), "proof_bytes": .int(Int64(proofBytes))])
    }

    /// Where a verify's time goes on PostgreSQL: the server executing the statement, then the
    /// rows crossing the network and decoded into catalog rows (a scan doing nothing with them,
    /// the way the verifier reads them), and what is left: the verifier's own checks and hashes.
    func verifyBreakdown(_ store: ContentStore, session: String, verifySeconds: Double,
                         emit: ([String: JSONValue]) throws -> Void) throws {
        let sql = "SELECT seq, time_ns, kind, body, leaf, chain FROM events WHERE session_id = ? ORDER BY seq"
        let plan = try store.catalog.database.read { db in
            try db.query("EXPLAIN (ANALYZE, TIMING OFF) " + sql, [.text(session)]).compactMap { $0.values.first.flatMap { v -> String? in
                if case .text(let t) = v { return t } else { return nil }
            } }
        }
        let serverMs = plan.lazy.compactMap { line -> Double? in
            guard let r = line.range(of: "Execution Time: ") else { return nil }
            return Double(line[r.upperBound...].prefix { $0.isNumber || $0 == "." })
        }.first ?? 0
        var rows = 0, bytes = 0
        let t0 = Date()
        try store.catalog.database.read { db in
            try db.forEachRow(sql, [.text(session)]) { row in
                rows += 1
                for value in row.values { if case .blob(let b) = value { bytes += b.count } }
            }
        }
        let scanSeconds = Date().timeIntervalSince(t0)
        try emit(["measure": "verify-breakdown", "events": .int(Int64(rows)), "row_bytes": .int(Int64(bytes)),
                  "verify_s": .double(verifySeconds), "server_execution_s": .double(serverMs / 1000),
                  "scan_s": .double(scanSeconds), "scan_events_per_s": .double(Double(rows) / scanSeconds),
                  "verifier_s": .double(max(0, verifySeconds - scanSeconds))])
    }

    func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.isEmpty ? 0 : s[s.count / 2]
    }

    func emit(_ o: [String: JSONValue]) throws {
        print(JSONValue.object(o).canonicalString)
        fflush(nil)
    }
}

final class MutexCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
