import Synchronization

/// A lock around a value, as a class so that a Sendable type can hold one in a `let`.
final class MutexBox<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLockedValue<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}
