import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The seam that forces an errno on a chosen system call, so that every error path can be tested —
/// in-process through `FaultInjection.install`, or in a child process through the environment:
///
///     STASIS_FAULTS="write=ENOSPC@3,fsync=EIO"
///
/// fails the third `write`-class call (and every later one) with ENOSPC and every fsync with EIO.
/// Unset, the check is one load of an empty array.
public enum FaultInjection {
    public enum Call: String, Sendable, CaseIterable {
        case open, read, write, fsync, truncate, rename, seek, lock
    }

    public struct Rule: Sendable {
        public var call: Call
        public var errno: Errno
        /// 1-based index of the first failing call of this kind.
        public var after: Int
        /// Only calls on paths under this prefix count and fail (nil: every path), so that a test
        /// injecting faults cannot disturb tests running beside it.
        public var pathPrefix: String?
        public init(call: Call, errno: Errno, after: Int = 1, pathPrefix: String? = nil) {
            self.call = call; self.errno = errno; self.after = after; self.pathPrefix = pathPrefix
        }
    }

    private struct State: Sendable {
        /// Each rule with the number of matching calls it has seen.
        var rules: [(rule: Rule, calls: Int)]
    }

    private static let state = Mutex(State(rules: parse(environment: getenv("STASIS_FAULTS").map { String(cString: $0) }).map { ($0, 0) }))
    private static let active = Atomic<Bool>(false)

    /// Parses `call=ERRNO[@n],…`; unknown entries are ignored so that a typo cannot break a real run.
    static func parse(environment value: String?) -> [Rule] {
        guard let value, !value.isEmpty else { return [] }
        var rules: [Rule] = []
        for item in value.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let call = Call(rawValue: String(parts[0])) else { continue }
            let rhs = parts[1].split(separator: "@", maxSplits: 1)
            guard let errno = Errno(name: String(rhs[0])) else { continue }
            let after = rhs.count == 2 ? Int(rhs[1]) ?? 1 : 1
            rules.append(Rule(call: call, errno: errno, after: after))
        }
        return rules
    }

    /// Adds rules (tests). Give each a `pathPrefix` of the test's own directory, so that tests
    /// running side by side neither trip nor count each other's calls.
    public static func install(_ rules: [Rule]) {
        let any = state.withLock { state in
            state.rules.append(contentsOf: rules.map { ($0, 0) })
            return !state.rules.isEmpty
        }
        active.store(any, ordering: .releasing)
    }

    /// Removes the rules under `pathPrefix` (nil: all rules).
    public static func remove(pathPrefix: String? = nil) {
        let any = state.withLock { state in
            state.rules.removeAll { pathPrefix == nil || $0.rule.pathPrefix == pathPrefix }
            return !state.rules.isEmpty
        }
        active.store(any, ordering: .releasing)
    }

    static let bootstrap: Void = {
        let hasRules = state.withLock { !$0.rules.isEmpty }
        active.store(hasRules, ordering: .releasing)
    }()

    /// Returns the errno to fail with, or nil to proceed.
    @inline(__always)
    static func check(_ call: Call, path: String) -> Errno? {
        _ = bootstrap
        guard active.load(ordering: .acquiring) else { return nil }
        return state.withLock { state -> Errno? in
            guard let i = state.rules.firstIndex(where: { $0.rule.call == call && path.hasPrefix($0.rule.pathPrefix ?? "") }) else { return nil }
            state.rules[i].calls += 1
            return state.rules[i].calls >= state.rules[i].rule.after ? state.rules[i].rule.errno : nil
        }
    }
}
