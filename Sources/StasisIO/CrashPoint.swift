#if canImport(Glibc)
import Glibc
#endif

/// Named places where a test can make the process die with SIGKILL, to prove that a crash at that
/// point leaves the store consistent. Set `STASIS_CRASH_AT=name` (or `name@n` for the n-th hit).
/// Without the variable `hit` is a single comparison against nil.
public enum CrashPoint {
    private static let target: (name: String, count: Int)? = {
        guard let raw = getenv("STASIS_CRASH_AT").map({ String(cString: $0) }), !raw.isEmpty else { return nil }
        let parts = raw.split(separator: "@", maxSplits: 1)
        return (String(parts[0]), parts.count == 2 ? Int(parts[1]) ?? 1 : 1)
    }()
    nonisolated(unsafe) private static var hits = 0

    /// Every name a crash test may use; the tests iterate over this list.
    public static let all = [
        "capture.chunk-written", "pack.before-fsync", "pack.before-rename", "pack.after-rename",
        "capture.before-commit", "capture.after-commit", "gc.before-commit", "gc.after-commit",
        "gc.pack-deleted", "rm.before-commit", "key-rotate.before-commit", "key-rotate.after-commit",
    ]

    public static func hit(_ name: StaticString) {
        guard let target else { return }
        guard target.name == name.description else { return }
        hits += 1   // only ever touched in crash-test runs; a race only shifts which hit kills
        if hits >= target.count {
            kill(getpid(), SIGKILL)
        }
    }
}
