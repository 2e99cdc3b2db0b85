/// Why the timeline server does not start.
public enum TimelineServerError: Error, Sendable, CustomStringConvertible {
    case badAddress(String)
    case tokenRequired(String)
    case listen(String)

    public var description: String {
        switch self {
        case .badAddress(let a): "--http '\(a)': expected HOST:PORT with a numeric port, e.g. 127.0.0.1:8080 or [::1]:8080"
        case .tokenRequired(let a): "--http \(a) is not a loopback address: give a token (--token-file FILE or STASIS_TOKEN) so that only its holders can read the store, or listen on 127.0.0.1"
        case .listen(let message): "the timeline server could not listen: \(message)"
        }
    }
}
