import Synchronization

/// A flag one thread sets and another reads: a client that went away stops a streamed page.
final class SendableFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
