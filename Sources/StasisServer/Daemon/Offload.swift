import Dispatch

/// Runs blocking work (SQLite reads, QEMU) on a dispatch thread so that it never parks one of the
/// few threads Swift concurrency runs everything else on.
enum Offload {
    static let queue = DispatchQueue(label: "stasis.serve.blocking", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
