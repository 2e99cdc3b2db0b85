import Foundation
import Testing
import StasisTestSupport
@testable import StasisObjectStorage

/// Invariants checked, against the real SeaweedFS that Tools/services/start.sh runs: put/get
/// round-trip bit-exact for empty, small and 20 MiB (multipart, from bytes and from a file)
/// objects; ranged reads are exact at every edge and a range past the end is refused with the
/// object's size, never answered short; head gives the size or nil; delete is idempotent; list
/// sees exactly one prefix; a wrong secret is "credentials rejected", a missing bucket is "bucket
/// not found at ENDPOINT", and neither message holds the secret; a body whose checksum does not
/// match is rejected by the service and nothing is stored; 503 SlowDown answers are retried until
/// they pass, or reported with the attempt count when they do not; a connection dropped mid-body
/// is retried, or reported — never returned as short data.
@Suite("S3 object storage against SeaweedFS", .enabled(if: !TestServices.skipped, "STASIS_TEST_NO_SERVICES=1"))
struct S3ObjectStorageTests {
    @Test("round trips: empty, small, 20 MiB multipart from bytes and from a file")
    func roundTrips() async throws {
        let config = try TestServices.configuration()
        let storage = S3ObjectStorage(configuration: config)
        let empty = ObjectKey.manifest(id: "00empty")
        try await storage.put(empty, bytes: [], sha256: ObjectDigest.of([]))
        #expect(try await storage.get(empty) == [])
        #expect(try await storage.head(empty)?.size == 0)

        let small = testBytes(4097, seed: 2)
        try await storage.put(.pack(id: "01small"), bytes: small)
        #expect(try await storage.get(.pack(id: "01small")) == small)

        let large = testBytes(20 << 20, seed: 3)
        let digest = ObjectDigest.of(large)
        try await storage.put(.pack(id: "02large"), bytes: large, sha256: digest)
        #expect(ObjectDigest.of(try await storage.get(.pack(id: "02large"))) == digest)

        let file = temporaryDirectory("s3") + "/large.pack"
        try Data(large).write(to: URL(fileURLWithPath: file))
        try await storage.put(.pack(id: "03file"), contentsOf: file, sha256: digest)
        #expect(try await storage.head(.pack(id: "03file"))?.size == Int64(large.count))
        #expect(ObjectDigest.of(try await storage.get(.pack(id: "03file"))) == digest)

        // A file whose bytes do not match the digest given: refused, nothing visible.
        _ = await expectFailure({ () async throws(ObjectStorageError) in
            try await storage.put(.pack(id: "04wrong"), contentsOf: file, sha256: ObjectDigest.of([1]))
        }) { if case .checksumMismatch = $0 { return true } else { return false } }
        #expect(try await storage.head(.pack(id: "04wrong")) == nil)
    }

    @Test("ranged reads at the edges; past the end is refused with the size")
    func ranges() async throws {
        let storage = S3ObjectStorage(configuration: try TestServices.configuration())
        let data = testBytes(10_000, seed: 4)
        let key = ObjectKey.pack(id: "10ranges")
        try await storage.put(key, bytes: data)
        for range: Range<Int64> in [0..<1, 0..<10_000, 9_999..<10_000, 4096..<8192, 1..<9_999, 5000..<5000] {
            #expect(try await storage.get(key, range: range) == Array(data[Int(range.lowerBound)..<Int(range.upperBound)]), "\(range)")
        }
        for range: Range<Int64> in [9_999..<10_001, 10_000..<10_001, 20_000..<20_010] {
            _ = await expectFailure({ () async throws(ObjectStorageError) in try await storage.get(key, range: range) }) {
                if case .rangeNotSatisfiable(_, _, let size) = $0 { return size == 10_000 } else { return false }
            }
        }
        _ = await expectFailure({ () async throws(ObjectStorageError) in try await storage.get(.pack(id: "11missing"), range: 0..<1) }) {
            if case .notFound(let at) = $0 { return at.key?.hasSuffix("packs/11/11missing.pack") == true } else { return false }
        }
    }

    @Test("head, delete and list by prefix")
    func headDeleteList() async throws {
        let config = try TestServices.configuration()
        let storage = S3ObjectStorage(configuration: config)
        let keys = [ObjectKey.pack(id: "aa01"), .pack(id: "aa02"), .pack(id: "bb01"), .manifest(id: "aa01")]
        for (i, key) in keys.enumerated() { try await storage.put(key, bytes: testBytes(100 + i)) }
        #expect(try await storage.head(.pack(id: "aa02"))?.size == 101)
        #expect(try await storage.head(.pack(id: "cc00")) == nil)
        #expect(try await storage.list(prefix: "packs/aa/").map(\.key) == [.pack(id: "aa01"), .pack(id: "aa02")])
        #expect(try await storage.list(prefix: "").map(\.key) == keys.sorted())
        #expect(try await storage.list(prefix: "packs/").map(\.size) == [100, 101, 102])
        try await storage.delete(.pack(id: "aa01"))
        try await storage.delete(.pack(id: "aa01"))
        #expect(try await storage.head(.pack(id: "aa01")) == nil)
        #expect(try await storage.list(prefix: "packs/aa").map(\.key) == [.pack(id: "aa02")])
        // Another prefix in the same bucket sees none of it.
        let neighbour = S3ObjectStorage(configuration: try TestServices.configuration())
        #expect(try await neighbour.list(prefix: "").isEmpty)
    }

    @Test("a wrong secret key: credentials rejected, and the secret appears nowhere")
    func wrongKey() async throws {
        var config = try TestServices.configuration()
        let secret = "wrong-secret-" + UUID().uuidString
        config.credentials = S3Credentials(accessKeyID: config.credentials.accessKeyID, secretAccessKey: secret, sessionToken: "session-token-secret")
        let storage = S3ObjectStorage(configuration: config)
        var messages: [String] = []
        for probe in [Probe.put, .get, .list] {
            let error = await expectFailure({ () async throws(ObjectStorageError) in try await probe.run(on: storage) }) {
                if case .credentialsRejected = $0 { return true } else { return false }
            }
            messages.append(error.map { "\($0) \(String(reflecting: $0))" } ?? "")
        }
        var unknown = config
        unknown.credentials = S3Credentials(accessKeyID: "NOSUCHKEY", secretAccessKey: secret)
        let error = await expectFailure({ () async throws(ObjectStorageError) in
            try await S3ObjectStorage(configuration: unknown).put(.pack(id: "21"), bytes: [1])
        }) { if case .credentialsRejected = $0 { return true } else { return false } }
        messages.append(error.map { "\($0) \(String(reflecting: $0))" } ?? "")
        for message in messages {
            #expect(message.contains("credentials rejected by \(config.endpoint)"))
            #expect(message.contains("AWS_SECRET_ACCESS_KEY"))
            #expect(!message.contains(secret))
            #expect(!message.contains("session-token-secret"))
        }
    }

    @Test("refusals (4xx) are not retried: one request each")
    func refusalsNotRetried() async throws {
        let base = try TestServices.configuration()
        let proxy = try FaultProxy(upstreamHost: base.endpoint.host, upstreamPort: base.endpoint.port ?? 80, mode: .status503, count: 0)
        defer { proxy.stop() }
        var config = base
        config.endpoint = S3Endpoint(secure: false, host: "127.0.0.1", port: proxy.port)
        config.credentials.secretAccessKey = "wrong"
        _ = await expectFailure({ () async throws(ObjectStorageError) in try await S3ObjectStorage(configuration: config).put(.pack(id: "22"), bytes: [1]) }) {
            if case .credentialsRejected = $0 { return true } else { return false }
        }
        config.credentials = base.credentials
        _ = await expectFailure({ () async throws(ObjectStorageError) in _ = try await S3ObjectStorage(configuration: config).get(.pack(id: "23")) }) {
            if case .notFound = $0 { return true } else { return false }
        }
        #expect(await proxy.served(reaching: 2) == 2)
    }

    @Test("a missing bucket: bucket not found at ENDPOINT")
    func missingBucket() async throws {
        var config = try TestServices.configuration()
        config.bucket = "no-such-bucket-" + UUID().uuidString.prefix(8).lowercased()
        let storage = S3ObjectStorage(configuration: config)
        for probe in [Probe.put, .get, .head, .list] {
            let error = await expectFailure({ () async throws(ObjectStorageError) in try await probe.run(on: storage) }) {
                if case .bucketNotFound(_, let bucket) = $0 { return bucket == config.bucket } else { return false }
            }
            #expect("\(String(describing: error))".contains("bucket '\(config.bucket)' not found at \(config.endpoint)"))
        }
    }

    @Test("a body that does not match its checksum is rejected by the service")
    func corruptedUpload() async throws {
        let config = try TestServices.configuration()
        let storage = S3ObjectStorage(configuration: config)
        let fullKey = config.fullKey(.pack(id: "40corrupt"))
        let sent = testBytes(1000, seed: 5)
        var damaged = sent
        damaged[500] ^= 1
        // What a damaged network would do: the checksum of `sent` with the bytes of `damaged`.
        for signing in [S3PayloadSigning.unsigned, .signed] {
            let call = S3Call(
                operation: "PUT", method: .PUT, key: fullKey,
                headers: [("x-amz-checksum-sha256", ObjectDigest.of(sent).base64)],
                body: .init(bytes: damaged),
                payloadHash: signing == .signed ? ObjectDigest.of(sent).hex : SigV4Signer.unsignedPayload)
            let answer = try await storage.transport.send(call)
            #expect(!answer.isSuccess)
            let error = storage.failure(answer, call)
            if signing == .unsigned {
                guard case .checksumRejected = error else { Issue.record("got \(error)"); continue }
            }
            #expect(try await storage.head(.pack(id: "40corrupt")) == nil)
        }
    }

    @Test("503 SlowDown answers are retried with backoff until they pass")
    func retriesSlowDown() async throws {
        let base = try TestServices.configuration()
        let proxy = try FaultProxy(upstreamHost: base.endpoint.host, upstreamPort: base.endpoint.port ?? 80, mode: .status503, count: 2)
        defer { proxy.stop() }
        var config = base
        config.endpoint = S3Endpoint(secure: false, host: "127.0.0.1", port: proxy.port)
        let storage = S3ObjectStorage(configuration: config)
        let data = testBytes(3000, seed: 6)
        try await storage.put(.pack(id: "50retry"), bytes: data)   // two 503s, then through
        #expect(try await storage.get(.pack(id: "50retry")) == data)
        #expect(await proxy.served(reaching: 4) == 4)
    }

    @Test("503 on every attempt: unavailable, naming the attempts, the endpoint, the bucket and the key")
    func retriesExhausted() async throws {
        let base = try TestServices.configuration()
        let proxy = try FaultProxy(upstreamHost: base.endpoint.host, upstreamPort: base.endpoint.port ?? 80, mode: .status503, count: 1000)
        defer { proxy.stop() }
        var config = base
        config.endpoint = S3Endpoint(secure: false, host: "127.0.0.1", port: proxy.port)
        let storage = S3ObjectStorage(configuration: config)
        let error = await expectFailure({ () async throws(ObjectStorageError) in try await storage.put(.pack(id: "51"), bytes: [1]) }) {
            if case .unavailable(_, _, let attempts, let cause) = $0 {
                return attempts == 3 && (cause as? S3ServiceError)?.code == "SlowDown"
            }
            return false
        }
        let text = "\(String(describing: error))"
        #expect(text.contains("127.0.0.1:\(proxy.port)") && text.contains(config.bucket) && text.contains("packs/51/51.pack"))
        #expect(text.contains("3 attempts"))
    }

    @Test("a connection dropped mid-body is retried; when it always drops, an error — never short data")
    func droppedConnections() async throws {
        let base = try TestServices.configuration()
        let direct = S3ObjectStorage(configuration: base)
        let data = testBytes(300_000, seed: 7)
        try await direct.put(.pack(id: "60cut"), bytes: data)

        for (count, shouldPass) in [(2, true), (1000, false)] {
            let proxy = try FaultProxy(upstreamHost: base.endpoint.host, upstreamPort: base.endpoint.port ?? 80, mode: .cut, count: count)
            defer { proxy.stop() }
            var config = base
            config.endpoint = S3Endpoint(secure: false, host: "127.0.0.1", port: proxy.port)
            let storage = S3ObjectStorage(configuration: config)
            if shouldPass {
                #expect(try await storage.get(.pack(id: "60cut")) == data)
                #expect(try await storage.get(.pack(id: "60cut"), range: 1000..<200_000) == Array(data[1000..<200_000]))
            } else {
                for range: Range<Int64>? in [nil, 1000..<200_000] {
                    _ = await expectFailure({ () async throws(ObjectStorageError) -> [UInt8] in
                        if let range { return try await storage.get(.pack(id: "60cut"), range: range) }
                        return try await storage.get(.pack(id: "60cut"))
                    }) {
                        switch $0 {
                        case .unavailable(_, _, let attempts, _): return attempts == 3
                        case .wrongLength: return true
                        default: return false
                        }
                    }
                }
            }
        }
    }

    @Test("virtual-host addressing puts the bucket in the host name")
    func virtualHost() throws {
        var config = try TestServices.configuration()
        config.addressing = .virtualHost
        config.endpoint = S3Endpoint(secure: true, host: "s3.eu-west-1.amazonaws.com")
        let transport = S3Transport(configuration: config, client: .shared)
        let request = transport.signedRequest(S3Call(operation: "GET", method: .GET, key: "p/packs/ab/x.pack"), timestamp: "20260101T000000Z")
        #expect(request.url == "https://\(config.bucket).s3.eu-west-1.amazonaws.com/p/packs/ab/x.pack")
        #expect(request.headers.first(name: "host") == "\(config.bucket).s3.eu-west-1.amazonaws.com")
        config.addressing = .path
        let pathStyle = S3Transport(configuration: config, client: .shared)
            .signedRequest(S3Call(operation: "GET", method: .GET, key: "p/k"), timestamp: "20260101T000000Z")
        #expect(pathStyle.url == "https://s3.eu-west-1.amazonaws.com/\(config.bucket)/p/k")
    }
}

/// One call of each kind, for tests that expect every kind to fail the same way.
enum Probe {
    case put, get, head, list

    func run(on storage: S3ObjectStorage) async throws(ObjectStorageError) {
        switch self {
        case .put: try await storage.put(.pack(id: "99probe"), bytes: [1])
        case .get: _ = try await storage.get(.pack(id: "99probe"))
        case .head: _ = try await storage.head(.pack(id: "99probe"))
        case .list: _ = try await storage.list(prefix: "")
        }
    }
}
