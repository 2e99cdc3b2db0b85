import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Objects in a bucket of any S3-compatible service (AWS S3, MinIO, Ceph RGW, SeaweedFS), under
/// the configuration's prefix. Requests are signed with SigV4; every upload carries
/// x-amz-checksum-sha256 (each part of a multipart upload its own) so the service refuses damaged
/// bytes; failures that may pass are retried under `S3RetryPolicy`; reads return exactly the
/// bytes asked for or throw.
///
///     let config = try S3Configuration.fromEnvironment(repository: "s3://stasis/prod",
///                                                      environment: ProcessInfo.processInfo.environment)
///     let storage = S3ObjectStorage(configuration: config)
///     try await storage.put(.manifest(id: id), bytes: manifest, sha256: ObjectDigest(hex: id))
public struct S3ObjectStorage: ObjectStorage {
    public let configuration: S3Configuration
    let transport: S3Transport

    /// `httpClient` defaults to AsyncHTTPClient's shared client (no shutdown needed); pass one
    /// of your own to set connection pool sizes or TLS settings.
    public init(configuration: S3Configuration, httpClient: HTTPClient = .shared) {
        self.configuration = configuration
        transport = S3Transport(configuration: configuration, client: httpClient)
    }

    public var location: String {
        "\(configuration.endpoint)/\(configuration.bucket)" + (configuration.prefix.isEmpty ? "" : "/" + configuration.prefix)
    }

    // MARK: - Writing

    public func put(_ key: ObjectKey, bytes: [UInt8], sha256: ObjectDigest?) async throws(ObjectStorageError) {
        let fullKey = configuration.fullKey(key)
        let digest = ObjectDigest.of(bytes)
        if let sha256, sha256 != digest {
            throw .checksumMismatch(transport.location(fullKey), expected: sha256, actual: digest)
        }
        if bytes.count >= configuration.multipart.threshold {
            try await uploadInParts(fullKey, size: Int64(bytes.count), expected: digest) { range in
                Array(bytes[Int(range.lowerBound)..<Int(range.upperBound)])
            }
            return
        }
        try await putSingle(fullKey, body: ByteBuffer(bytes: bytes), digest: digest)
    }

    public func put(_ key: ObjectKey, contentsOf path: String, sha256: ObjectDigest?) async throws(ObjectStorageError) {
        let fullKey = configuration.fullKey(key)
        let file = try SourceFile(path: path, storage: location)
        defer { file.close() }
        if file.size < Int64(configuration.multipart.threshold) {
            let bytes = try file.read(0..<file.size)
            let digest = ObjectDigest.of(bytes)
            if let sha256, sha256 != digest {
                throw .checksumMismatch(transport.location(fullKey), expected: sha256, actual: digest)
            }
            try await putSingle(fullKey, body: ByteBuffer(bytes: bytes), digest: digest)
            return
        }
        try await uploadInParts(fullKey, size: file.size, expected: sha256) { range throws(ObjectStorageError) in
            try file.read(range)
        }
    }

    func putSingle(_ fullKey: String, body: ByteBuffer, digest: ObjectDigest) async throws(ObjectStorageError) {
        let call = S3Call(
            operation: "PUT", method: .PUT, key: fullKey,
            headers: [("x-amz-checksum-sha256", digest.base64), ("content-type", "application/octet-stream")],
            body: body, payloadHash: payloadHash(digest))
        let answer = try await transport.send(call)
        guard answer.isSuccess else { throw failure(answer, call) }
    }

    func payloadHash(_ digest: ObjectDigest) -> String {
        configuration.payloadSigning == .signed ? digest.hex : SigV4Signer.unsignedPayload
    }

    // MARK: - Reading

    public func get(_ key: ObjectKey) async throws(ObjectStorageError) -> [UInt8] {
        let call = S3Call(operation: "GET", method: .GET, key: configuration.fullKey(key),
                          maximumResponseBytes: Int.max)
        let answer = try await transport.send(call)
        guard answer.isSuccess else { throw failure(answer, call) }
        return Array(answer.body.readableBytesView)
    }

    public func get(_ key: ObjectKey, range: Range<Int64>) async throws(ObjectStorageError) -> [UInt8] {
        let fullKey = configuration.fullKey(key)
        guard range.lowerBound >= 0 else {
            throw .rangeNotSatisfiable(transport.location(fullKey), range: range, size: nil)
        }
        if range.isEmpty {
            // HTTP has no empty range: check that the object exists and reaches that far.
            guard let info = try await head(key) else { throw .notFound(transport.location(fullKey)) }
            guard range.upperBound <= info.size else {
                throw .rangeNotSatisfiable(transport.location(fullKey), range: range, size: info.size)
            }
            return []
        }
        let call = S3Call(
            operation: "GET bytes \(range.lowerBound)..<\(range.upperBound)", method: .GET, key: fullKey,
            headers: [("range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")],
            maximumResponseBytes: Int(range.count), expectedBodyLength: nil)
        let answer = try await transport.send(call)
        guard answer.isSuccess else { throw failure(answer, call) }
        let body = Array(answer.body.readableBytesView)
        let total = Self.totalSize(contentRange: answer.headers.first(name: "content-range"))
        if let total, range.upperBound > total {
            // The service returns what exists of a range that reaches past the end; we do not.
            throw .rangeNotSatisfiable(transport.location(fullKey), range: range, size: total)
        }
        guard body.count == range.count else {
            throw .wrongLength(transport.location(fullKey), expected: Int64(range.count), received: Int64(body.count))
        }
        return body
    }

    public func head(_ key: ObjectKey) async throws(ObjectStorageError) -> ObjectInfo? {
        let call = S3Call(operation: "HEAD", method: .HEAD, key: configuration.fullKey(key))
        let answer = try await transport.send(call)
        if answer.status == 404 {
            // A HEAD answer has no body saying whether the key or the bucket is missing.
            try await checkBucketExists()
            return nil
        }
        guard answer.isSuccess else { throw failure(answer, call) }
        guard let size = answer.headers.first(name: "content-length").flatMap({ Int64($0) }) else {
            throw .invalidResponse(transport.location(call.key), operation: "HEAD", reason: "no Content-Length")
        }
        return ObjectInfo(key: key, size: size)
    }

    func checkBucketExists() async throws(ObjectStorageError) {
        let call = S3Call(operation: "HEAD bucket", method: .HEAD, key: nil)
        let answer = try await transport.send(call)
        if answer.status == 404 {
            throw .bucketNotFound(endpoint: configuration.endpoint.description, bucket: configuration.bucket)
        }
        guard answer.isSuccess else { throw failure(answer, call) }
    }

    /// SIZE from `bytes A-B/SIZE` (or `bytes */SIZE`).
    static func totalSize(contentRange: String?) -> Int64? {
        guard let contentRange, let slash = contentRange.lastIndex(of: "/") else { return nil }
        return Int64(contentRange[contentRange.index(after: slash)...])
    }

    // MARK: - Deleting and listing

    public func delete(_ key: ObjectKey) async throws(ObjectStorageError) {
        let call = S3Call(operation: "DELETE", method: .DELETE, key: configuration.fullKey(key))
        let answer = try await transport.send(call)
        if answer.isSuccess { return }
        let error = failure(answer, call)
        if case .notFound = error { return }
        throw error
    }

    public func list(prefix: String) async throws(ObjectStorageError) -> [ObjectInfo] {
        let fullPrefix = configuration.prefix.isEmpty ? prefix : configuration.prefix + "/" + prefix
        let strip = configuration.prefix.isEmpty ? 0 : configuration.prefix.count + 1
        var found: [ObjectInfo] = []
        var token: String?
        repeat {
            var query: [(name: String, value: String)] = [("list-type", "2"), ("prefix", fullPrefix)]
            if let token { query.append(("continuation-token", token)) }
            let call = S3Call(operation: "LIST '\(fullPrefix)'", method: .GET, key: nil, query: query,
                              maximumResponseBytes: 64 << 20)
            let answer = try await transport.send(call)
            guard answer.isSuccess else { throw failure(answer, call) }
            let text = answer.bodyText
            for entry in XMLText.elements("Contents", in: text) {
                guard let fullKey = XMLText.first("Key", in: entry),
                      let size = XMLText.first("Size", in: entry).flatMap({ Int64($0) }) else {
                    throw .invalidResponse(transport.location(nil), operation: call.operation, reason: "an entry without Key or Size")
                }
                // Keys not written through ObjectKey (another tool's files) are not ours to list.
                guard fullKey.count > strip, let key = try? ObjectKey(String(fullKey.dropFirst(strip))) else { continue }
                found.append(ObjectInfo(key: key, size: size))
            }
            let truncated = XMLText.first("IsTruncated", in: text) == "true"
            token = truncated ? XMLText.first("NextContinuationToken", in: text) : nil
            if truncated && token == nil {
                throw .invalidResponse(transport.location(nil), operation: call.operation, reason: "a truncated listing without a continuation token")
            }
        } while token != nil
        return found.sorted { $0.key < $1.key }
    }

    // MARK: - Refusals

    /// The typed error for a final non-2xx answer.
    func failure(_ answer: S3Answer, _ call: S3Call) -> ObjectStorageError {
        let cause = S3Transport.serviceError(answer)
        let at = transport.location(call.key)
        switch cause.code {
        case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired", "InvalidSecurity":
            return .credentialsRejected(endpoint: configuration.endpoint.description,
                                        accessKeyID: configuration.credentials.accessKeyID, cause: cause)
        case "NoSuchBucket":
            return .bucketNotFound(endpoint: configuration.endpoint.description, bucket: configuration.bucket)
        case "NoSuchKey", "NoSuchUpload":
            return .notFound(at)
        case "BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch", "InvalidChecksum":
            return .checksumRejected(at, cause: cause)
        default:
            break
        }
        switch answer.status {
        case 404 where call.method == .HEAD || call.method == .GET || call.method == .DELETE:
            return .notFound(at)
        case 403:
            return .accessDenied(at, cause: cause)
        case 416:
            let range = Self.requestedRange(call) ?? 0..<0
            return .rangeNotSatisfiable(at, range: range, size: Self.totalSize(contentRange: answer.headers.first(name: "content-range")))
        default:
            return .requestRejected(at, operation: call.operation, cause: cause)
        }
    }

    static func requestedRange(_ call: S3Call) -> Range<Int64>? {
        guard let header = call.headers.first(where: { $0.name == "range" })?.value,
              header.hasPrefix("bytes="), let dash = header.firstIndex(of: "-"),
              let low = Int64(header[header.index(header.startIndex, offsetBy: 6)..<dash]),
              let high = Int64(header[header.index(after: dash)...]) else { return nil }
        return low..<(high + 1)
    }
}
