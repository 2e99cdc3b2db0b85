/// Where `stasis serve --http` listens and what it asks of clients.
public struct TimelineServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// When set, every request must carry it (`Authorization: Bearer TOKEN`, the `stasis_token`
    /// cookie, or `?token=`); when not, only a loopback address is accepted.
    public var token: String?

    /// Reads `HOST:PORT` (`127.0.0.1:8080`, `[::1]:8080`, `localhost:0`; port 0 picks a free
    /// one) and applies the token rule: an address other than loopback needs a token, as the
    /// gRPC TCP listener always does.
    public init(address: String, token: String?) throws(TimelineServerError) {
        guard let colon = address.lastIndex(of: ":"), colon != address.startIndex,
              let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            throw .badAddress(address)
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw .badAddress(address) }
        let token = token.flatMap { $0.isEmpty ? nil : $0 }
        if token == nil, !Self.isLoopback(host) { throw .tokenRequired(address) }
        self.host = host; self.port = port; self.token = token
    }

    /// 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
