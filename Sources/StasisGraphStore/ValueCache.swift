import Synchronization

/// Recently read large values by id, so that reading the latest checkpoint again (LangGraph does
/// before every step) does not reassemble its chunks. Bounded by bytes; oldest entries go first.
final class ValueCache: Sendable {
    private let state = Mutex<(values: [[UInt8]: [UInt8]], order: [[UInt8]], bytes: Int)>(([:], [], 0))
    let budget: Int

    init(budget: Int = 64 << 20) { self.budget = budget }

    func get(_ id: [UInt8]) -> [UInt8]? { state.withLock { $0.values[id] } }

    func put(_ id: [UInt8], _ bytes: [UInt8]) {
        guard bytes.count <= budget / 4 else { return }
        state.withLock { s in
            guard s.values[id] == nil else { return }
            s.values[id] = bytes
            s.order.append(id)
            s.bytes += bytes.count
            while s.bytes > budget, !s.order.isEmpty {
                let old = s.order.removeFirst()
                s.bytes -= s.values.removeValue(forKey: old)?.count ?? 0
            }
        }
    }

    func removeAll() { state.withLock { $0 = ([:], [], 0) } }
}
