import Dispatch
import GRDB
import StasisStore
import Synchronization

/// Serialises every checkpointer write onto one thread and commits whatever has queued up in one
/// catalog transaction ("group commit"): with many clients the fsync is shared, with one client
/// each call still commits on its own before it is acknowledged.
///
/// Each job runs in its own savepoint, so one bad request fails alone. Jobs that delete run in a
/// batch of their own, so that no job ever deduplicates against a chunk a delete just removed.
final class GroupCommitWriter: Sendable {
    struct Job: Sendable {
        var deletes: Bool
        var body: @Sendable (Database, WriterContext) throws -> any Sendable
        var done: @Sendable (Result<any Sendable, any Error>) -> Void
    }

    private let catalog: Catalog
    private let queue = DispatchQueue(label: "stasis.graph-writer")
    private let pending = Mutex<(jobs: [Job], draining: Bool)>(([], false))
    /// Only touched by the one drainer at a time (`draining`).
    let context: WriterContext

    init(catalog: Catalog, knownChunks: Set<ChunkID>) {
        self.catalog = catalog
        self.context = WriterContext(knownChunks: knownChunks)
    }

    func perform<T: Sendable>(deletes: Bool = false, _ body: @escaping @Sendable (Database, WriterContext) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueue(Job(deletes: deletes, body: { db, ctx in try body(db, ctx) }, done: { result in
                continuation.resume(with: result.map { $0 as! T })
            }))
        }
    }

    /// The blocking form, for callers outside Swift concurrency (the CLI, tests).
    func performSync<T: Sendable>(deletes: Bool = false, _ body: @escaping @Sendable (Database, WriterContext) throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = Mutex<Result<any Sendable, any Error>?>(nil)
        enqueue(Job(deletes: deletes, body: { db, ctx in try body(db, ctx) }, done: { result in
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
        context.beginBatch()
        do {
            try catalog.writeThrough { db in
                if batch.count == 1 {
                    // Alone in its transaction: a failure rolls the transaction back, no savepoint needed.
                    context.beginJob()
                    do {
                        results[0] = .success(try batch[0].body(db, context))
                    } catch {
                        results[0] = .failure(error)
                        context.endJob(committed: false)
                        throw JobFailed()
                    }
                    context.endJob(committed: true)
                    return
                }
                for (i, job) in batch.enumerated() {
                    context.beginJob()
                    do {
                        try db.inSavepoint {
                            results[i] = .success(try job.body(db, context))
                            return .commit
                        }
                        context.endJob(committed: true)
                    } catch {
                        context.endJob(committed: false)
                        results[i] = .failure(error)
                    }
                }
            }
            context.endBatch(committed: true)
        } catch is JobFailed {
            context.endBatch(committed: false)  // results[0] holds the job's own error
        } catch {
            context.endBatch(committed: false)
            let failure = GraphError.storage("\(error)")
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

/// What the writer thread knows across transactions: which chunks exist. Additions count only
/// once their transaction commits; removals are applied when the deleting batch commits.
final class WriterContext: @unchecked Sendable {
    private var known: Set<ChunkID>
    private var batchAdded: Set<ChunkID> = []
    private var jobAdded: Set<ChunkID> = []
    private var batchRemoved: Set<ChunkID> = []

    init(knownChunks: Set<ChunkID>) { known = knownChunks }

    func exists(_ id: ChunkID) -> Bool {
        (known.contains(id) && !batchRemoved.contains(id)) || batchAdded.contains(id) || jobAdded.contains(id)
    }

    func added(_ id: ChunkID) { jobAdded.insert(id) }
    func removed(_ id: ChunkID) { batchRemoved.insert(id) }
    var knownCount: Int { known.count }

    func beginBatch() { batchAdded = []; batchRemoved = [] }
    func beginJob() { jobAdded = [] }
    func endJob(committed: Bool) {
        if committed { batchAdded.formUnion(jobAdded) }
        jobAdded = []
    }
    func endBatch(committed: Bool) {
        if committed {
            known.subtract(batchRemoved)
            known.formUnion(batchAdded)
        }
        batchAdded = []
        batchRemoved = []
    }
}
