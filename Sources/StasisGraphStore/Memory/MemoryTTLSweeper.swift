/// The daemon's own TTL sweep: `stasis serve` deletes expired memories (and the large values
/// only they used) every `interval`, so that a store whose clients never call `sweep_ttl()`
/// does not keep them forever. Reads never see expired items either way; the sweep only frees
/// their space.
public struct MemoryTTLSweeper: Sendable {
    public let memory: MemoryStore
    public let interval: Duration

    public init(memory: MemoryStore, interval: Duration) {
        self.memory = memory
        self.interval = interval
    }

    /// Sweeps every `interval` until cancelled. A failed sweep (the catalog briefly down, say)
    /// is reported to `report` and tried again at the next interval.
    public func run(report: @Sendable (GraphError) -> Void) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            do { _ = try await memory.sweepExpired() } catch { report(error) }
        }
    }
}
