/// Why an object storage call failed. Each case names where (endpoint, bucket, key — or the
/// file), keeps the underlying error as `cause` rather than a string of it, and its description
/// says what to do. No case ever holds a secret key or session token: configuration errors name
/// the variable, never its value, and credentials appear only as the access key id.
public enum ObjectStorageError: Error, CustomStringConvertible {
    /// No object under this key.
    case notFound(ObjectLocation)
    /// The range reaches past the object's end (`size` when the storage said).
    case rangeNotSatisfiable(ObjectLocation, range: Range<Int64>, size: Int64?)
    /// The bytes at hand do not have the SHA-256 the caller supplied; nothing was stored.
    case checksumMismatch(ObjectLocation, expected: ObjectDigest, actual: ObjectDigest)
    /// The service received bytes whose checksum differed from the one sent (damaged on the way).
    case checksumRejected(ObjectLocation, cause: S3ServiceError)
    /// A read returned fewer (or more) bytes than asked for, on every attempt.
    case wrongLength(ObjectLocation, expected: Int64, received: Int64)
    /// The service does not accept the access key or the signature made with the secret key.
    case credentialsRejected(endpoint: String, accessKeyID: String, cause: S3ServiceError)
    /// The credentials are valid but not allowed to do this.
    case accessDenied(ObjectLocation, cause: S3ServiceError)
    /// The bucket does not exist at this endpoint.
    case bucketNotFound(endpoint: String, bucket: String)
    /// Any other refusal (4xx): not retried, since the same request would be refused again.
    case requestRejected(ObjectLocation, operation: String, cause: S3ServiceError)
    /// The service kept failing (5xx, 429/SlowDown, timeouts, lost connections) until the retry
    /// policy's attempts or time ran out; `cause` is the last failure.
    case unavailable(ObjectLocation, operation: String, attempts: Int, cause: any Error)
    /// The service answered something this client cannot use (a malformed listing, no upload id).
    case invalidResponse(ObjectLocation, operation: String, reason: String)
    /// A configuration value is missing or malformed; `variable` names it where it came from the
    /// environment (AWS_ACCESS_KEY_ID, …).
    case invalidConfiguration(variable: String?, problem: String, remedy: String)
    /// The key breaks `ObjectKey`'s rules.
    case invalidKey(String, reason: String)
    /// A local file operation failed (the local storage, or reading a file to upload).
    case io(ObjectLocation, cause: any Error)
    /// The task was cancelled before the call finished; a put may or may not have completed.
    case cancelled(ObjectLocation)

    public var description: String {
        switch self {
        case .notFound(let at):
            return "no object \(at)"
        case .rangeNotSatisfiable(let at, let range, let size):
            let sizeText = size.map { "it has \($0) bytes" } ?? "it is shorter"
            return "cannot read bytes \(range.lowerBound)..<\(range.upperBound) of \(at): \(sizeText)"
        case .checksumMismatch(let at, let expected, let actual):
            return "refusing to store \(at): its bytes have SHA-256 \(actual.hex), not the \(expected.hex) given; the source changed or the digest is wrong"
        case .checksumRejected(let at, let cause):
            return "the service rejected the upload of \(at) because the bytes it received do not match their SHA-256 (\(cause.summary)); they were damaged on the way — retry the upload"
        case .wrongLength(let at, let expected, let received):
            return "reading \(at) returned \(received) bytes instead of \(expected); the connection or the service is unreliable — retry, and check the service's health"
        case .credentialsRejected(let endpoint, let accessKeyID, let cause):
            return "credentials rejected by \(endpoint) for access key '\(accessKeyID)' (\(cause.summary)): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)"
        case .accessDenied(let at, let cause):
            return "access denied to \(at) (\(cause.summary)): the credentials are not allowed this operation, or were rejected; check the key's policy, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        case .bucketNotFound(let endpoint, let bucket):
            return "bucket '\(bucket)' not found at \(endpoint): create it, or check the bucket in the repository URL (s3://BUCKET/PREFIX), AWS_ENDPOINT_URL and AWS_REGION"
        case .requestRejected(let at, let operation, let cause):
            return "\(operation) of \(at) was refused: \(cause.summary)"
        case .unavailable(let at, let operation, let attempts, let cause):
            return "\(operation) of \(at) failed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(cause); check that the service is running and reachable (AWS_ENDPOINT_URL), then retry"
        case .invalidResponse(let at, let operation, let reason):
            return "\(operation) of \(at): the service's answer is not usable: \(reason)"
        case .invalidConfiguration(let variable, let problem, let remedy):
            return (variable.map { "\($0): " } ?? "") + problem + "; " + remedy
        case .invalidKey(let key, let reason):
            return "'\(key)' is not a valid object key: \(reason)"
        case .io(let at, let cause):
            return "\(at): \(cause)"
        case .cancelled(let at):
            return "cancelled while working on \(at)"
        }
    }
}

/// Where an operation was aimed: a directory and a key, or an endpoint, bucket and key.
public struct ObjectLocation: Sendable, CustomStringConvertible {
    /// The directory of a local storage, or the S3 endpoint URL.
    public var storage: String
    /// The bucket, for S3.
    public var bucket: String?
    /// The full key as sent (prefix included), or the file path for local storage; nil for calls
    /// about the bucket itself (list).
    public var key: String?

    public init(storage: String, bucket: String? = nil, key: String? = nil) {
        self.storage = storage
        self.bucket = bucket
        self.key = key
    }

    public var description: String {
        if let bucket {
            let what = key.map { "key '\($0)' in " } ?? ""
            return "\(what)bucket '\(bucket)' at \(storage)"
        }
        return "'\(key ?? storage)'"
    }
}

/// An S3 error answer: the HTTP status and, when the body had one, S3's error code and message
/// (`<Error><Code>NoSuchKey</Code><Message>…</Message>`).
public struct S3ServiceError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String?
    public var message: String?
    public var requestID: String?

    public init(status: Int, code: String? = nil, message: String? = nil, requestID: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.requestID = requestID
    }

    public var summary: String {
        var text = "HTTP \(status)"
        if let code { text += " \(code)" }
        if let message, !message.isEmpty { text += ": \(message)" }
        return text
    }

    public var description: String { summary + (requestID.map { " (request id \($0))" } ?? "") }
}
