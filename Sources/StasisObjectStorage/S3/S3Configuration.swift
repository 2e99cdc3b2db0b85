/// Everything `S3ObjectStorage` needs, as a value: the library never reads the environment
/// (`S3Configuration.fromEnvironment` does that for a caller that wants to).
public struct S3Configuration: Sendable {
    /// Scheme, host and port of the service: `https://s3.eu-west-1.amazonaws.com`,
    /// `http://127.0.0.1:8333`. No path.
    public var endpoint: S3Endpoint
    public var region: String
    public var bucket: String
    /// Put before every key, without leading or trailing '/': "" or "stores/prod". Keys become
    /// `PREFIX/packs/ab/<id>.pack`.
    public var prefix: String
    public var credentials: S3Credentials
    public var addressing: S3Addressing
    public var retry: S3RetryPolicy
    public var multipart: S3MultipartPolicy
    /// Sign upload bodies' SHA-256 into the request (the service checks it) or send
    /// UNSIGNED-PAYLOAD; the x-amz-checksum-sha256 header is sent either way.
    public var payloadSigning: S3PayloadSigning

    public init(
        endpoint: S3Endpoint, region: String, bucket: String, prefix: String = "",
        credentials: S3Credentials, addressing: S3Addressing = .path,
        retry: S3RetryPolicy = S3RetryPolicy(), multipart: S3MultipartPolicy = S3MultipartPolicy(),
        payloadSigning: S3PayloadSigning = .signed
    ) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
        self.credentials = credentials
        self.addressing = addressing
        self.retry = retry
        self.multipart = multipart
        self.payloadSigning = payloadSigning
    }

    /// The full key sent for `key`.
    func fullKey(_ key: ObjectKey) -> String { prefix.isEmpty ? key.rawValue : prefix + "/" + key.rawValue }
}

/// `https://host[:port]` — parsed here so that a malformed AWS_ENDPOINT_URL fails at
/// configuration time with the variable's name, not at the first request.
public struct S3Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var secure: Bool
    public var host: String
    public var port: Int?

    public init(secure: Bool, host: String, port: Int? = nil) {
        self.secure = secure
        self.host = host
        self.port = port
    }

    /// Parses `http://host[:port][/]` or `https://…`; nil for anything else.
    public init?(url: String) {
        let secure: Bool
        var rest: Substring
        if url.hasPrefix("https://") { secure = true; rest = url.dropFirst(8) }
        else if url.hasPrefix("http://") { secure = false; rest = url.dropFirst(7) }
        else { return nil }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        if rest.isEmpty || rest.contains("/") || rest.contains("@") || rest.contains("?") { return nil }
        var host = rest
        var port: Int?
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
            host = rest[..<colon]
        }
        if host.isEmpty { return nil }
        self.init(secure: secure, host: String(host), port: port)
    }

    /// The AWS endpoint of a region.
    public static func aws(region: String) -> S3Endpoint {
        S3Endpoint(secure: true, host: "s3.\(region).amazonaws.com")
    }

    /// The Host header's value: the port only when it is not the scheme's default.
    public var authority: String {
        guard let port, port != (secure ? 443 : 80) else { return host }
        return "\(host):\(port)"
    }

    public var description: String { (secure ? "https://" : "http://") + authority }
}

/// Access key id and secret (and a session token for temporary credentials). Its description
/// shows the access key id only: the secret and the token never reach a message or a log.
public struct S3Credentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String { "S3Credentials(accessKeyID: \(accessKeyID), secret: <redacted>\(sessionToken == nil ? "" : ", session token: <redacted>"))" }
    public var debugDescription: String { description }
}

/// Path style (`http://host/BUCKET/KEY`) works with every S3-compatible service and with
/// addresses that are IPs; virtual-host style (`http://BUCKET.host/KEY`) is AWS's preferred form.
public enum S3Addressing: Sendable, Hashable {
    case path
    case virtualHost
}

public enum S3PayloadSigning: Sendable, Hashable {
    /// x-amz-content-sha256 is the body's hex SHA-256: the signature covers the bytes.
    case signed
    /// x-amz-content-sha256 is UNSIGNED-PAYLOAD; integrity rests on x-amz-checksum-sha256.
    case unsigned
}

/// When uploads go up in parts. S3 parts are 5 MiB to 5 GiB (the last may be smaller), at most
/// 10,000 of them.
public struct S3MultipartPolicy: Sendable {
    /// Objects at least this large are uploaded in parts.
    public var threshold: Int
    public var partSize: Int
    /// Parts in flight at once; memory held is about `concurrency × partSize`.
    public var concurrency: Int

    public init(threshold: Int = 16 << 20, partSize: Int = 8 << 20, concurrency: Int = 4) {
        self.threshold = max(threshold, 5 << 20)
        self.partSize = max(partSize, 5 << 20)
        self.concurrency = max(1, concurrency)
    }
}
