/// Why the daemon could not start. Each names what to do.
public enum DaemonError: Error, Sendable, CustomStringConvertible {
    case alreadyServing(store: String, detail: String)
    case badAddress(String)
    case tokenRequired
    case listen(String)
    case store(String)

    public var description: String {
        switch self {
        case .alreadyServing(let store, let detail):
            "another `stasis serve` is already serving \(store) (\(detail)); connect to it, or stop it first"
        case .badAddress(let a):
            "--listen \(a): expected HOST:PORT with a numeric port, e.g. 127.0.0.1:7443"
        case .tokenRequired:
            "--listen needs a token: give --token-file FILE or set STASIS_TOKEN (clients send `authorization: Bearer TOKEN`)"
        case .listen(let m): "cannot listen: \(m)"
        case .store(let m): m
        }
    }
}
