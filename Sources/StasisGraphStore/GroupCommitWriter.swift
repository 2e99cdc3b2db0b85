import Dispatch
import StasisCatalog
import Synchronization

/// Serialises every checkpointer write onto one thread and commits whatever has queued up in one
/// catalog transaction ("group commit"): with many clients the fsync is shared, with one client
/// each call still commits on its own before it is acknowledged.
///
/// One bad request fails alone: a batch in which a job failed is run again with each job in its
/// own savepoint. Jobs that delete run in a batch of their own: their sweep reads every value and
/// chunk, and puts queued ahead of a delete commit without waiting for it. (Which chunks exist is read from the catalog by each job, so no
/// job can count on a chunk that a delete, here or in another process, removed.)
final class GroupCommitWriter: Sendable {
    struct Job: Sendable {
        /// The LangGraph thread the job writes, or nil when it needs the whole store to itself.
        var key: String?
        var deletes: Bool
        var body: @Sendable (any CatalogConnection) throws -> any Sendable
        var done: @Sendable (Result<any Sendable, any Error>) -> Void
    }

    private let database: any CatalogDatabase
    private let queue = DispatchQueue(label: "stasis.graph-writer")
    private let pending = Mutex<(jobs: [Job], draining: Bool)>(([], false))

    init(database: any CatalogDatabase) {
        self.database = database
    }

    func perform<T: Sendable>(key: String? = nil, deletes: Bool = false, _ body: @escaping @Sendable (any CatalogConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueue(Job(key: key, deletes: deletes, body: { db in try body(db) }, done: { result in
                continuation.resume(with: result.map { $0 as! T })
            }))
        }
    }

    /// The blocking form, for callers outside Swift concurrency (the CLI, tests).
    func performSync<T: Sendable>(key: String? = nil, deletes: Bool = false, _ body: @escaping @Sendable (any CatalogConnection) throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = Mutex<Result<any Sendable, any Error>?>(nil)
        enqueue(Job(key: key, deletes: deletes, body: { db in try body(db) }, done: { result in
            box.withLock { $0 = result }
            done.signal()
        }))
        done.wait()
        return try box.withLock { $0! }.get() as! T
    }

    private func enqueue(_ job: Job) {
        let start = pending.withLock { state -> Bool in
            state.jobs.append(job)
            if state.draining { return false }
            state.draining = true
            return true
        }
        guard start else { return }
        // The first caller commits its own batch on its own thread (no hand-off when calls come one
        // at a time); what queued up meanwhile is committed on the writer's queue.
        let batch = nextBatch()
        if !batch.isEmpty { run(batch) }
        if pending.withLock({ state -> Bool in
            if state.jobs.isEmpty { state.draining = false; return false }
            return true
        }) {
            queue.async { self.drain() }
        }
    }

    private func nextBatch() -> [Job] {
        pending.withLock { state -> [Job] in
            guard let first = state.jobs.first else {
                state.draining = false
                return []
            }
            if first.deletes {
                state.jobs.removeFirst()
                return [first]
            }
            let n = state.jobs.firstIndex(where: \.deletes) ?? state.jobs.count
            let batch = Array(state.jobs[..<n])
            state.jobs.removeFirst(n)
            return batch
        }
    }

    private func drain() {
        while true {
            let batch = nextBatch()
            if batch.isEmpty { return }
            run(batch)
        }
    }

    private func run(_ batch: [Job]) {
        // Jobs rarely fail, and on PostgreSQL a savepoint costs two round trips, each one held
        // under the catalog's write lock: a batch first runs without them, and only when one of
        // its jobs fails is it rolled back and run again, each job in a savepoint so that it
        // fails alone. (A job is re-runnable: what it writes is decided in its own transaction
        // from the catalog, and its inserts are idempotent.)
        let results = batch.count > 1 ? attempt(batch, savepoints: false) ?? attempt(batch, savepoints: true)! : attempt(batch, savepoints: false)!
        for (i, job) in batch.enumerated() { job.done(results[i] ?? .failure(GraphError.storage("not run"))) }
    }

    /// Runs `batch` in one transaction. Without savepoints, a failed job rolls the whole batch
    /// back and the answer is nil (to be run again with them) — unless it was alone, when its
    /// own error is its result.
    private func attempt(_ batch: [Job], savepoints: Bool) -> [Result<any Sendable, any Error>?]? {
        var results = [Result<any Sendable, any Error>?](repeating: nil, count: batch.count)
        // Jobs that all name their thread lock only those threads (writers of other threads,
        // on other lanes or hosts, go on meanwhile); any other job locks the whole store.
        let keys = batch.compactMap(\.key)
        let write: ((any CatalogConnection) throws -> Void) throws -> Void = keys.count == batch.count
            ? { body in try self.database.write(keys: keys, body) }
            : { body in try self.database.write(body) }
        do {
            try write { db in
                for (i, job) in batch.enumerated() {
                    do {
                        results[i] = .success(try savepoints ? db.savepoint { try job.body(db) } : job.body(db))
                    } catch {
                        results[i] = .failure(error)
                        if !savepoints { throw JobFailed() }
                    }
                }
            }
        } catch is JobFailed {
            // Rolled back. Alone, the job's own error is its result; in a batch, run it again.
            guard batch.count == 1 else { return nil }
        } catch {
            // The transaction failed as a whole (its commit, the connection): no job's work is
            // stored — unless the connection was lost in its COMMIT and the outcome is unknown.
            let failure: GraphError = if case CatalogError.commitUnknown = error {
                .outcomeUnknown("\(error)", cause: error)
            } else {
                .storage("\(error)", cause: error)
            }
            for i in results.indices {
                if case .success = results[i] { results[i] = .failure(failure) }
                if results[i] == nil { results[i] = .failure(failure) }
            }
        }
        return results
    }
}

/// A lone job failed: its transaction is rolled back and the job's own error is its result.
private struct JobFailed: Error {}
