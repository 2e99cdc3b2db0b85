import Dispatch
import StasisCatalog
import Synchronization

/// Serialises every checkpointer write onto one thread and commits whatever has queued up in one
/// catalog transaction ("group commit"): with many clients the fsync is shared, with one client
/// each call still commits on its own before it is acknowledged.
///
/// Each job runs in its own savepoint, so one bad request fails alone. Jobs that delete run in a
/// batch of their own: their sweep reads every value and chunk, and puts queued ahead of a delete
/// commit without waiting for it. (Which chunks exist is read from the catalog by each job, so no
/// job can count on a chunk that a delete, here or in another process, removed.)
final class GroupCommitWriter: Sendable {
    struct Job: Sendable {
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

    func perform<T: Sendable>(deletes: Bool = false, _ body: @escaping @Sendable (any CatalogConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueue(Job(deletes: deletes, body: { db in try body(db) }, done: { result in
                continuation.resume(with: result.map { $0 as! T })
            }))
        }
    }

    /// The blocking form, for callers outside Swift concurrency (the CLI, tests).
    func performSync<T: Sendable>(deletes: Bool = false, _ body: @escaping @Sendable (any CatalogConnection) throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = Mutex<Result<any Sendable, any Error>?>(nil)
        enqueue(Job(deletes: deletes, body: { db in try body(db) }, done: { result in
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
        var results = [Result<any Sendable, any Error>?](repeating: nil, count: batch.count)
        do {
            try database.write { db in
                if batch.count == 1 {
                    // Alone in its transaction: a failure rolls the transaction back, no savepoint needed.
                    do {
                        results[0] = .success(try batch[0].body(db))
                    } catch {
                        results[0] = .failure(error)
                        throw JobFailed()
                    }
                    return
                }
                for (i, job) in batch.enumerated() {
                    do {
                        results[i] = .success(try db.savepoint { try job.body(db) })
                    } catch {
                        results[i] = .failure(error)
                    }
                }
            }
        } catch is JobFailed {
            // results[0] holds the job's own error
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
        for (i, job) in batch.enumerated() { job.done(results[i] ?? .failure(GraphError.storage("not run"))) }
    }
}

/// A lone job failed: its transaction is rolled back and the job's own error is its result.
private struct JobFailed: Error {}
