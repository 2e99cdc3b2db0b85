/// How `stasis serve` listens. The Unix socket is always on; TCP only when asked, and then only
/// with a token (and TLS when a certificate is given).
public struct DaemonConfiguration: Sendable {
    public var storePath: String
    /// Default: STORE/stasis.sock.
    public var socketPath: String
    /// "HOST:PORT" (port 0 = any free port), or nil for no TCP listener.
    public var tcpAddress: String?
    /// Required on TCP: clients send `authorization: Bearer TOKEN`.
    public var token: String?
    /// PEM certificate chain and key for TLS on the TCP listener.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Largest request message accepted; larger ones get RESOURCE_EXHAUSTED.
    public var maxMessageBytes: Int
    /// How long in-flight calls may take to finish after SIGTERM before the daemon exits anyway.
    public var drainSeconds: Double
    /// How often the daemon deletes memory-store items whose TTL ran out; nil: only when a
    /// client asks (`sweep_ttl()`).
    public var memorySweepSeconds: Double?

    public static let defaultMaxMessageBytes = 64 << 20

    public init(storePath: String, socketPath: String? = nil, tcpAddress: String? = nil, token: String? = nil,
                tlsCertificate: String? = nil, tlsKey: String? = nil,
                maxMessageBytes: Int = DaemonConfiguration.defaultMaxMessageBytes, drainSeconds: Double = 30,
                memorySweepSeconds: Double? = 60) {
        self.storePath = storePath
        self.socketPath = socketPath ?? storePath + "/stasis.sock"
        self.tcpAddress = tcpAddress
        self.token = token
        self.tlsCertificate = tlsCertificate
        self.tlsKey = tlsKey
        self.maxMessageBytes = maxMessageBytes
        self.drainSeconds = drainSeconds
        self.memorySweepSeconds = memorySweepSeconds
    }
}
