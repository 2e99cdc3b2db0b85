import Foundation

/// The services Tools/services/start.sh runs for the tests (SeaweedFS, PostgreSQL). Their env file
/// is named by STASIS_SERVICES_ENV (Tools/test.sh sets it); the variables may also be in the
/// environment. Without either, suites that need them fail saying how to start the services; they
/// skip only when STASIS_TEST_NO_SERVICES=1 says so explicitly.
public enum TestServices {
    public static let skipped = ProcessInfo.processInfo.environment["STASIS_TEST_NO_SERVICES"] == "1"

    public struct Missing: Error, CustomStringConvertible {
        public var description: String
    }

    /// The environment with the env file's variables added; throws unless `required` is set.
    public static func variables(requiring required: String) throws -> [String: String] {
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
        guard values[required] != nil else {
            throw Missing(description: """
                this test needs \(required) from the test services: run `Tools/services/start.sh` and export \
                STASIS_SERVICES_ENV=<the env file it prints> (Tools/test.sh does both), or set STASIS_TEST_NO_SERVICES=1 to skip on purpose
                """)
        }
        return values
    }

    /// The test PostgreSQL's URL (with its password: for tests only).
    public static func postgresURL() throws -> String {
        try variables(requiring: "STASIS_TEST_PG_URL")["STASIS_TEST_PG_URL"]!
    }
}

/// A directory under the system's temporary directory, removed when the value goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ prefix: String = "stasis-test") {
        path = NSTemporaryDirectory() + prefix + "-" + UUID().uuidString.prefix(8).lowercased()
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
