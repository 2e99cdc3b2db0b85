/// Receives progress of long work (bytes done of total). Called from worker threads: an
/// implementation must be thread-safe and cheap; the CLI's rate-limits its terminal output.
public protocol ProgressReporter: Sendable {
    func begin(_ phase: String, total: Int64)
    func advance(by bytes: Int64)
    func end()
}

/// Reports nothing (library callers and scripts).
public struct SilentProgress: ProgressReporter {
    public init() {}
    public func begin(_ phase: String, total: Int64) {}
    public func advance(by bytes: Int64) {}
    public func end() {}
}
