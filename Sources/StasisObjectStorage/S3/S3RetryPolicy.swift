/// How hard to try before giving up on a request that failed for a reason that may pass: a 5xx
/// answer, 429 or SlowDown, a timeout, a lost or refused connection, a body cut short. Refusals
/// (other 4xx) are never retried. Waits grow exponentially with full jitter (a random wait in
/// [0, min(maximumBackoff, initialBackoff·2^(attempt-1))]) so that many hosts retrying at once
/// spread out instead of arriving together.
public struct S3RetryPolicy: Sendable {
    /// Attempts in all, the first included (1 = no retries).
    public var maximumAttempts: Int
    public var initialBackoff: Duration
    public var maximumBackoff: Duration
    /// No new attempt starts after this much time since the first.
    public var totalTimeLimit: Duration
    /// One attempt's limit, from sending the request to the end of the answer's body.
    public var requestTimeout: Duration

    public init(
        maximumAttempts: Int = 6, initialBackoff: Duration = .milliseconds(100),
        maximumBackoff: Duration = .seconds(5), totalTimeLimit: Duration = .seconds(120),
        requestTimeout: Duration = .seconds(120)
    ) {
        self.maximumAttempts = max(1, maximumAttempts)
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.totalTimeLimit = totalTimeLimit
        self.requestTimeout = requestTimeout
    }

    /// The wait before attempt `attempt + 1`, after `attempt` failures.
    func backoff<G: RandomNumberGenerator>(afterAttempt attempt: Int, using generator: inout G) -> Duration {
        let exponent = min(attempt - 1, 30)
        let ceiling = min(maximumBackoff, initialBackoff * (1 << exponent))
        let ceilingNanoseconds = max(0, Self.nanoseconds(ceiling))
        guard ceilingNanoseconds > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...ceilingNanoseconds, using: &generator))
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
