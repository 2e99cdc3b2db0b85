import Dispatch
import Synchronization

/// Runs an async call (object storage) to completion from the store's synchronous code.
///
/// The task runs with a task-executor preference for a concurrent dispatch queue, never on Swift's
/// cooperative pool: that pool has one thread per core, and every one of them may be a caller
/// blocked right here (a test, a daemon handler), which would leave nothing to run the task.
enum BlockingAsync {
    static let executor = DispatchTaskExecutor(label: "stasis.objects")

    static func run<T: Sendable, E: Error>(_ body: @escaping @Sendable () async throws(E) -> T) throws(E) -> T {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<T, E>?>(nil)
        Task(executorPreference: executor) {
            let result: Result<T, E>
            do throws(E) { result = .success(try await body()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }
}

/// A task executor over a concurrent dispatch queue (threads made on demand, outside the
/// cooperative pool).
final class DispatchTaskExecutor: TaskExecutor, @unchecked Sendable {
    private let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label, attributes: .concurrent) }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}
