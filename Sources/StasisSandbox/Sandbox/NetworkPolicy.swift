import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A sandbox's network card and what it may reach (Formats/sandbox-config.md, "network").
/// Outbound traffic is denied unless a destination is in `allow`; `publish` forwards a host port
/// on 127.0.0.1 to a TCP port of the guest. Saved in the spec, so restores, resumes and forks keep
/// the policy; the host ports of `publish` are chosen anew at every start.
public struct NetworkPolicy: Codable, Sendable, Equatable {
    public var allow: [EgressDestination]
    public var publish: [PublishedPort]

    public init(allow: [EgressDestination] = [], publish: [PublishedPort] = []) {
        self.allow = allow; self.publish = publish
    }

    /// One line for people: what the sandbox may reach and what it publishes.
    public var summary: String {
        let allowed = allow.isEmpty ? "outbound denied" : "allow " + allow.map { d in
            d.addresses == [d.host] ? "\(d.host):\(d.port)" : "\(d.host):\(d.port) (\(d.addresses.joined(separator: ",")))"
        }.joined(separator: " ")
        let published = publish.map { "127.0.0.1:\($0.hostPort)->\($0.guestPort)" }.joined(separator: " ")
        return "network: " + allowed + (published.isEmpty ? "" : "; publish " + published)
    }

    /// The addresses and ports QEMU's sockets may connect to, each once.
    public var allowedEndpoints: [(address: String, port: UInt16)] {
        var seen = Set<String>()
        var out: [(address: String, port: UInt16)] = []
        for d in allow {
            for a in d.addresses where seen.insert("\(a) \(d.port)").inserted { out.append((a, d.port)) }
        }
        return out
    }

    /// Parses `--allow HOST:PORT` and `--publish [HOSTPORT:]GUESTPORT` values. Host names are
    /// resolved here, once: the policy holds addresses, and a name that later resolves elsewhere
    /// does not open the new address. Nothing is bound yet (`choosingHostPorts`).
    public static func parse(allow: [String], publish: [String]) throws(SandboxError) -> NetworkPolicy {
        var policy = NetworkPolicy()
        for value in allow { policy.allow.append(try EgressDestination.parse(value)) }
        for value in publish { policy.publish.append(try PublishedPort.parse(value)) }
        var guestPorts = Set<UInt16>()
        for p in policy.publish where !guestPorts.insert(p.guestPort).inserted {
            throw .badArgument("--publish: guest port \(p.guestPort) is published twice; publish each guest port once")
        }
        return policy
    }

    /// The same policy with a host port for every published port: the one asked for (refused if
    /// another program holds it), else a free one the kernel picks.
    public func choosingHostPorts() throws(SandboxError) -> NetworkPolicy {
        var chosen = self
        var taken = Set<UInt16>()
        for i in chosen.publish.indices {
            let p = chosen.publish[i]
            let port = try Self.freeLoopbackPort(p.requestedHostPort ?? 0, for: p)
            guard taken.insert(port).inserted else {
                throw .badArgument("--publish \(p.argument): host port \(port) is already published by another --publish of this sandbox")
            }
            chosen.publish[i].hostPort = port
        }
        return chosen
    }

    /// Binds 127.0.0.1:`port` (0: any) to learn that it is free, and returns the port. QEMU binds
    /// it again a moment later; a program that takes it in between makes QEMU's start fail with
    /// its own message.
    static func freeLoopbackPort(_ port: UInt16, for published: PublishedPort) throws(SandboxError) -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io("socket for --publish \(published.argument)", errno) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let e = errno
            if e == EADDRINUSE {
                throw .badArgument("--publish \(published.argument): host port \(port) on 127.0.0.1 is in use by another program; choose another port, or give only the guest port to get a free one")
            }
            throw .io("bind 127.0.0.1:\(port) for --publish \(published.argument)", e)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafeMutablePointer(to: &address, {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }) == 0 else { throw .io("getsockname for --publish \(published.argument)", errno) }
        return UInt16(bigEndian: address.sin_port)
    }
}

/// One `--allow HOST:PORT`: TCP to `port` on each of `addresses` (HOST resolved at start).
public struct EgressDestination: Codable, Sendable, Equatable {
    /// As the user wrote it (a name or an address).
    public var host: String
    public var port: UInt16
    /// IPv4 addresses `host` resolved to when the sandbox was created.
    public var addresses: [String]

    public init(host: String, port: UInt16, addresses: [String]) {
        self.host = host; self.port = port; self.addresses = addresses
    }

    static func parse(_ value: String) throws(SandboxError) -> EgressDestination {
        guard let colon = value.lastIndex(of: ":"), colon != value.startIndex else {
            throw .badArgument("--allow \(value): a destination is HOST:PORT, with a port (e.g. --allow pypi.org:443)")
        }
        let host = String(value[..<colon])
        let port = try parsePort(String(value[value.index(after: colon)...]), option: "--allow \(value)")
        return EgressDestination(host: host, port: port, addresses: try resolve(host, option: "--allow \(value)"))
    }

    /// IPv4 addresses of `host` (slirp connects over IPv4 for the guest's IPv4 traffic).
    static func resolve(_ host: String, option: String) throws(SandboxError) -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &list)
        guard rc == 0, let list else {
            throw .badArgument("\(option): cannot resolve '\(host)' (\(String(cString: gai_strerror(rc)))); give an address or a name this host can resolve")
        }
        defer { freeaddrinfo(list) }
        var out: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let e = entry {
            if let sa = e.pointee.ai_addr, e.pointee.ai_family == AF_INET {
                var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var a = sin.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &a, &text, socklen_t(INET_ADDRSTRLEN))
                }
                let s = String(cString: text)
                if !out.contains(s) { out.append(s) }
            }
            entry = e.pointee.ai_next
        }
        guard !out.isEmpty else { throw .badArgument("\(option): '\(host)' has no IPv4 address; give one that has") }
        return out
    }
}

/// One `--publish [HOSTPORT:]GUESTPORT`: TCP on 127.0.0.1:`hostPort` of the host reaches
/// `guestPort` in the guest.
public struct PublishedPort: Codable, Sendable, Equatable {
    public var guestPort: UInt16
    /// The host port asked for; nil: any free one, chosen at each start.
    public var requestedHostPort: UInt16?
    /// The host port of the running sandbox (0 until chosen).
    public var hostPort: UInt16

    public init(guestPort: UInt16, requestedHostPort: UInt16?, hostPort: UInt16 = 0) {
        self.guestPort = guestPort; self.requestedHostPort = requestedHostPort; self.hostPort = hostPort
    }

    /// The value as given on the command line.
    public var argument: String { requestedHostPort.map { "\($0):\(guestPort)" } ?? "\(guestPort)" }

    static func parse(_ value: String) throws(SandboxError) -> PublishedPort {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1: return PublishedPort(guestPort: try parsePort(parts[0], option: "--publish \(value)"), requestedHostPort: nil)
        case 2: return PublishedPort(guestPort: try parsePort(parts[1], option: "--publish \(value)"),
                                     requestedHostPort: try parsePort(parts[0], option: "--publish \(value)"))
        default: throw .badArgument("--publish \(value): give GUESTPORT or HOSTPORT:GUESTPORT (e.g. --publish 8080 or --publish 18080:8080)")
        }
    }
}

/// A TCP port from 1 to 65535.
func parsePort(_ text: String, option: String) throws(SandboxError) -> UInt16 {
    guard let n = Int(text), (1...65535).contains(n) else {
        throw .badArgument("\(option): '\(text)' is not a port; a port is a number from 1 to 65535")
    }
    return UInt16(n)
}
