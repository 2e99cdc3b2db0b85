import Foundation
import Testing
import StasisObjectStorage

/// The SeaweedFS that Tools/services/start.sh runs for the tests. Its env file is named by
/// STASIS_SERVICES_ENV (Tools/test.sh sets it); the variables themselves may also be in the
/// environment. Without either the S3 tests fail, saying how to start the services — they skip
/// only when STASIS_TEST_NO_SERVICES=1 says so explicitly.
enum TestServices {
    static let skipped = ProcessInfo.processInfo.environment["STASIS_TEST_NO_SERVICES"] == "1"

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    static func variables() throws -> [String: String] {
        var values = ProcessInfo.processInfo.environment
        if let path = values["STASIS_SERVICES_ENV"], !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw Missing(description: "STASIS_SERVICES_ENV names \(path), which cannot be read: run Tools/services/start.sh (it prints the env file's path)")
            }
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                values[String(line[..<eq])] = String(line[line.index(after: eq)...])
            }
        }
        guard values["STASIS_TEST_S3_ENDPOINT"] != nil else {
            throw Missing(description: """
                the S3 tests need SeaweedFS: run `Tools/services/start.sh` and export STASIS_SERVICES_ENV=<the env file it prints> \
                (Tools/test.sh does both), or set STASIS_TEST_NO_SERVICES=1 to skip these tests on purpose
                """)
        }
        return values
    }

    /// A configuration for the test bucket under a fresh prefix, so tests never see each other's
    /// objects. Attempts are counted, not timed: the time limits are far beyond what a loaded
    /// machine needs, so a slow run never turns a third attempt into none.
    static func configuration(
        prefix: String = "t-" + UUID().uuidString.prefix(8).lowercased(),
        retry: S3RetryPolicy = S3RetryPolicy(maximumAttempts: 3, initialBackoff: .milliseconds(20), maximumBackoff: .milliseconds(200), totalTimeLimit: .seconds(600), requestTimeout: .seconds(120)),
        multipart: S3MultipartPolicy = S3MultipartPolicy()
    ) throws -> S3Configuration {
        let v = try variables()
        guard let endpoint = S3Endpoint(url: v["STASIS_TEST_S3_ENDPOINT"]!) else {
            throw Missing(description: "STASIS_TEST_S3_ENDPOINT is not an http URL")
        }
        return S3Configuration(
            endpoint: endpoint, region: v["STASIS_TEST_S3_REGION"] ?? "us-east-1",
            bucket: v["STASIS_TEST_S3_BUCKET"] ?? "stasis-test", prefix: prefix,
            credentials: S3Credentials(accessKeyID: v["STASIS_TEST_S3_ACCESS_KEY_ID"] ?? "",
                                       secretAccessKey: v["STASIS_TEST_S3_SECRET_ACCESS_KEY"] ?? ""),
            retry: retry, multipart: multipart)
    }
}

/// Runs `body` and checks that it throws an `ObjectStorageError` that `matches` accepts.
func expectFailure<T>(
    _ body: () async throws(ObjectStorageError) -> T,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ matches: (ObjectStorageError) -> Bool
) async -> ObjectStorageError? {
    do {
        let value = try await body()
        Issue.record("expected an error, got \(value)", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(matches(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
        return error
    }
}

/// Deterministic bytes that are not all alike (a splitmix64 stream), so that an offset mistake
/// shows as different bytes.
func testBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var state = seed
    var out = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        for b in 0..<8 where i + b < count { out[i + b] = UInt8(truncatingIfNeeded: z >> (8 * UInt64(b))) }
        i += 8
    }
    return out
}

func temporaryDirectory(_ tag: String) -> String {
    let dir = NSTemporaryDirectory() + "stasis-objects-\(tag)-" + UUID().uuidString.prefix(8)
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}
