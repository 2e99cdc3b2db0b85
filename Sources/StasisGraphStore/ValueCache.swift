import Synchronization

/// A large value as last stored or read: its bytes and its chunks (the base of the next delta).
struct CachedValue: Sendable {
    var bytes: [UInt8]
    var pieces: [ChunkedValue.Piece]
}

/// Recently stored or read large values by id, so that reading the latest checkpoint again
/// (LangGraph does before every run) does not reassemble its chunks, and a delta against it
/// (the next step's put) finds its base in memory. Bounded by bytes; oldest entries go first.
/// Values are keyed by their content-derived id, so an entry is never wrong, only absent.
final class ValueCache: Sendable {
    private let state = Mutex<(values: [[UInt8]: CachedValue], order: [[UInt8]], bytes: Int)>(([:], [], 0))
    let budget: Int

    init(budget: Int = 128 << 20) { self.budget = budget }

    func get(_ id: [UInt8]) -> CachedValue? { state.withLock { $0.values[id] } }

    func put(_ id: [UInt8], _ value: CachedValue) {
        guard value.bytes.count <= budget / 4 else { return }
        state.withLock { s in
            guard s.values[id] == nil else { return }
            s.values[id] = value
            s.order.append(id)
            s.bytes += value.bytes.count
            while s.bytes > budget, !s.order.isEmpty {
                let old = s.order.removeFirst()
                s.bytes -= s.values.removeValue(forKey: old)?.bytes.count ?? 0
            }
        }
    }

    func removeAll() { state.withLock { $0 = ([:], [], 0) } }
}
