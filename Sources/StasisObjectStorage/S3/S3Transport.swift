import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// One S3 request as the storage describes it, before addressing and signing.
struct S3Call: Sendable {
    /// For messages: "PUT", "GET", "UploadPart 3", …
    var operation: String
    var method: HTTPMethod
    /// The full key (prefix included), or nil for a request about the bucket.
    var key: String?
    var query: [(name: String, value: String)] = []
    var headers: [(name: String, value: String)] = []
    var body: ByteBuffer?
    /// x-amz-content-sha256: the body's hex SHA-256, or UNSIGNED-PAYLOAD.
    var payloadHash: String = SigV4Signer.emptyPayloadHash
    /// The most body bytes accepted in the answer.
    var maximumResponseBytes: Int = 1 << 20
    /// When set, a 2xx answer must carry exactly this many body bytes; fewer or more is treated
    /// as a lost connection (retried), never handed to the caller.
    var expectedBodyLength: Int64?
}

/// The service's answer, body collected.
struct S3Answer: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer

    var isSuccess: Bool { (200..<300).contains(status) }
    var bodyText: Substring { Substring(body.getString(at: body.readerIndex, length: body.readableBytes) ?? "") }
}

/// A 2xx answer whose body had the wrong length: retried like a dropped connection.
struct WrongBodyLength: Error, CustomStringConvertible {
    var expected: Int64
    var received: Int64
    var description: String { "the answer's body had \(received) bytes, not \(expected)" }
}

/// Addresses, signs and sends calls with the retry policy; knows nothing about objects.
struct S3Transport: Sendable {
    let configuration: S3Configuration
    let client: HTTPClient
    let signer: SigV4Signer

    init(configuration: S3Configuration, client: HTTPClient) {
        self.configuration = configuration
        self.client = client
        signer = SigV4Signer(
            accessKeyID: configuration.credentials.accessKeyID,
            secretAccessKey: configuration.credentials.secretAccessKey,
            region: configuration.region, service: "s3", normalizePath: false)
    }

    func location(_ key: String?) -> ObjectLocation {
        ObjectLocation(storage: configuration.endpoint.description, bucket: configuration.bucket, key: key)
    }

    /// Sends `call`, retrying failures that may pass, and returns the last answer: 2xx, or a
    /// refusal (4xx) for the caller to interpret. Throws `unavailable` when retries run out.
    func send(_ call: S3Call) async throws(ObjectStorageError) -> S3Answer {
        let policy = configuration.retry
        let start = ContinuousClock.now
        var random = SystemRandomNumberGenerator()
        var attempt = 0
        while true {
            attempt += 1
            let failure: any Error
            do {
                let answer = try await attemptOnce(call)
                if !Self.isRetryable(status: answer.status) { return answer }
                failure = Self.serviceError(answer)
            } catch is CancellationError {
                throw .cancelled(location(call.key))
            } catch let error as HTTPClientError where error == .cancelled {
                throw .cancelled(location(call.key))
            } catch let error as NIOTooManyBytesError {
                throw .invalidResponse(location(call.key), operation: call.operation, reason: "its body is larger than \(call.maximumResponseBytes) bytes (\(error))")
            } catch let error as HTTPClientError where [HTTPClientError.invalidURL, .emptyHost, .emptyScheme].contains(error) {
                throw .invalidConfiguration(variable: nil, problem: "the endpoint \(configuration.endpoint) cannot be used (\(error))", remedy: "check AWS_ENDPOINT_URL")
            } catch {
                failure = error
            }
            if Task.isCancelled { throw .cancelled(location(call.key)) }
            let wait = policy.backoff(afterAttempt: attempt, using: &random)
            if attempt >= policy.maximumAttempts || start.duration(to: .now) + wait >= policy.totalTimeLimit {
                if let wrong = failure as? WrongBodyLength {
                    throw .wrongLength(location(call.key), expected: wrong.expected, received: wrong.received)
                }
                throw .unavailable(location(call.key), operation: call.operation, attempts: attempt, cause: failure)
            }
            do { try await Task.sleep(for: wait) } catch { throw .cancelled(location(call.key)) }
        }
    }

    /// 5xx (InternalError, ServiceUnavailable, SlowDown) and 429 may pass; other answers will not.
    static func isRetryable(status: Int) -> Bool { status >= 500 || status == 429 }

    private func attemptOnce(_ call: S3Call) async throws -> S3Answer {
        let request = signedRequest(call, timestamp: AmzDate.timestamp(secondsSince1970: Self.now()))
        let timeout = TimeAmount.nanoseconds(S3RetryPolicy.nanoseconds(configuration.retry.requestTimeout))
        let response = try await client.execute(request, timeout: timeout)
        // An error answer's XML may be longer than a small range's bytes.
        let limit = (200..<300).contains(Int(response.status.code)) ? call.maximumResponseBytes : max(call.maximumResponseBytes, 1 << 20)
        let body = try await response.body.collect(upTo: limit)
        let answer = S3Answer(status: Int(response.status.code), headers: response.headers, body: body)
        if answer.isSuccess {
            let received = Int64(body.readableBytes)
            if let expected = call.expectedBodyLength, received != expected {
                throw WrongBodyLength(expected: expected, received: received)
            }
            if call.method != .HEAD, let declared = response.headers.first(name: "content-length").flatMap({ Int64($0) }),
               declared != received {
                throw WrongBodyLength(expected: declared, received: received)
            }
        }
        return answer
    }

    /// The HTTP request for `call`: URL by the addressing style, SigV4 headers, the body.
    func signedRequest(_ call: S3Call, timestamp: String) -> HTTPClientRequest {
        let endpoint = configuration.endpoint
        var host = endpoint.authority
        var path: String
        switch configuration.addressing {
        case .path:
            path = "/" + configuration.bucket + (call.key.map { "/" + $0 } ?? "")
        case .virtualHost:
            host = configuration.bucket + "." + host
            path = "/" + (call.key ?? "")
        }
        var headers: [(name: String, value: String)] = [
            ("host", host),
            ("x-amz-date", timestamp),
            ("x-amz-content-sha256", call.payloadHash),
        ]
        if let token = configuration.credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        headers += call.headers
        let signature = signer.sign(
            SigV4Signer.Request(method: call.method.rawValue, path: path, query: call.query,
                                headers: headers, payloadHash: call.payloadHash),
            timestamp: timestamp)

        let query = URIEncoding.canonicalQuery(call.query)
        var url = (endpoint.secure ? "https://" : "http://") + host + URIEncoding.canonicalPath(path, normalize: false)
        if !query.isEmpty { url += "?" + query }
        var request = HTTPClientRequest(url: url)
        request.method = call.method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.headers.add(name: "authorization", value: signature.authorization)
        if let body = call.body { request.body = .bytes(body) }
        return request
    }

    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec)
    }

    static func serviceError(_ answer: S3Answer) -> S3ServiceError {
        let text = answer.bodyText
        return S3ServiceError(
            status: answer.status,
            code: XMLText.first("Code", in: text),
            message: XMLText.first("Message", in: text),
            requestID: answer.headers.first(name: "x-amz-request-id") ?? XMLText.first("RequestId", in: text))
    }
}

#if canImport(Glibc)
import Glibc
#endif
