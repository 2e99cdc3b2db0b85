import Crypto

/// AWS Signature Version 4 (header form), checked against AWS's published test suite
/// (Tests/StasisObjectStorageTests/Resources/aws-sig-v4-test-suite).
///
/// The request's path and query are given decoded; the signer encodes them the way SigV4 wants
/// (RFC 3986 unreserved characters kept, everything else %XX in UTF-8) and the caller sends the
/// same encoded path on the wire. S3 differs from other services in one rule: its paths are not
/// normalized (`a//b/./c` is a different key from `a/b/c`), so `normalizePath` is false for S3.
public struct SigV4Signer: Sendable {
    public var accessKeyID: String
    var secretAccessKey: String
    public var region: String
    public var service: String
    public var normalizePath: Bool

    public init(accessKeyID: String, secretAccessKey: String, region: String, service: String, normalizePath: Bool) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
        self.normalizePath = normalizePath
    }

    /// What to sign. `headers` are every header that will be sent and signed (host and
    /// x-amz-date included), in any order and case; repeated names are joined with ','.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var query: [(name: String, value: String)]
        public var headers: [(name: String, value: String)]
        /// Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" (S3 only).
        public var payloadHash: String

        public init(method: String, path: String, query: [(name: String, value: String)] = [],
                    headers: [(name: String, value: String)], payloadHash: String) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    /// Every intermediate value, so that tests can check each step against the suite.
    public struct Signature: Sendable {
        public var canonicalRequest: String
        public var stringToSign: String
        public var signedHeaders: String
        public var signature: String
        public var authorization: String
    }

    /// The hex SHA-256 of an empty body.
    public static let emptyPayloadHash = ObjectDigest.of([UInt8]()).hex
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// Signs `request` at `timestamp` (`YYYYMMDD'T'HHMMSS'Z'`, the x-amz-date header's value).
    public func sign(_ request: Request, timestamp: String) -> Signature {
        let date = String(timestamp.prefix(8))
        let scope = "\(date)/\(region)/\(service)/aws4_request"

        let canonicalHeaders = Self.canonicalHeaders(request.headers)
        let signedHeaders = canonicalHeaders.map(\.name).joined(separator: ";")
        let canonicalRequest = [
            request.method,
            URIEncoding.canonicalPath(request.path, normalize: normalizePath),
            URIEncoding.canonicalQuery(request.query),
            canonicalHeaders.map { "\($0.name):\($0.value)\n" }.joined(),
            signedHeaders,
            request.payloadHash,
        ].joined(separator: "\n")

        let stringToSign = [
            "AWS4-HMAC-SHA256",
            timestamp,
            scope,
            ObjectDigest.of(Array(canonicalRequest.utf8)).hex,
        ].joined(separator: "\n")

        let signingKey = [date, region, service, "aws4_request"].reduce(
            SymmetricKey(data: Array(("AWS4" + secretAccessKey).utf8))
        ) { key, part in
            SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Hex.encode(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: signingKey))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return Signature(canonicalRequest: canonicalRequest, stringToSign: stringToSign,
                         signedHeaders: signedHeaders, signature: signature, authorization: authorization)
    }

    /// Lowercase names, sorted; values trimmed with inner runs of spaces collapsed to one;
    /// repeated names joined with ',' in the order given.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var joined: [String: [String]] = [:]
        for (name, value) in headers {
            joined[name.lowercased(), default: []].append(collapseSpaces(value))
        }
        return joined.keys.sorted().map { ($0, joined[$0]!.joined(separator: ",")) }
    }

    static func collapseSpaces(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }
}

/// The x-amz-date timestamp for a moment in seconds since 1970 (UTC).
public enum AmzDate {
    public static func timestamp(secondsSince1970 t: Int64) -> String {
        let days = t >= 0 ? t / 86400 : (t - 86399) / 86400
        let secondsOfDay = t - days * 86400
        // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)\(two(month))\(two(day))T\(two(secondsOfDay / 3600))\(two(secondsOfDay / 60 % 60))\(two(secondsOfDay % 60))Z"
    }
}
