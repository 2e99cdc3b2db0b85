import Foundation

/// Prints how long each phase of an operation took to stderr when `STASIS_TRACE` is set (for
/// finding where the time goes on a given machine); otherwise does nothing.
struct PhaseTrace {
    private static let enabled = ProcessInfo.processInfo.environment["STASIS_TRACE"] != nil
    private let operation: String
    private var last = Date()

    init(_ operation: String) { self.operation = operation }

    mutating func mark(_ phase: String) {
        guard Self.enabled else { return }
        let now = Date()
        FileHandle.standardError.write(Data(String(format: "trace %@ %@: %.1f ms\n", operation, phase, now.timeIntervalSince(last) * 1000).utf8))
        last = now
    }
}
