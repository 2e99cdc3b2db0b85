import Testing
@testable import StasisObjectStorage

/// Invariants checked: keys are validated (no empty, dot or non-ASCII segments) and the layout
/// helpers give `packs/ab/<id>.pack` and `manifests/ab/<id>.manifest`; configuration from an
/// environment dictionary follows the AWS names (region fallback, endpoint override, session
/// token), reads both repository URL forms, and every error names the variable and never a
/// secret's value.
@Suite("Object keys and S3 configuration")
struct ObjectKeyAndConfigurationTests {
    @Test("layout keys")
    func layout() throws {
        #expect(ObjectKey.pack(id: "ab12cd").rawValue == "packs/ab/ab12cd.pack")
        #expect(ObjectKey.manifest(id: "ff00").rawValue == "manifests/ff/ff00.manifest")
        #expect(ObjectKey.pack(id: "ab12cd").layoutID == "ab12cd")
        #expect(try ObjectKey("packs/zz/ab12.pack").layoutID == nil)
    }

    @Test("bad keys are refused with the reason", arguments: ["", "/a", "a/", "a//b", "a/../b", "./a", "a b", "a\u{e9}"])
    func badKeys(_ key: String) {
        #expect(throws: ObjectStorageError.self) { try ObjectKey(key) }
    }

    let environment = [
        "AWS_ACCESS_KEY_ID": "AKIDTEST",
        "AWS_SECRET_ACCESS_KEY": "secret-value-never-shown",
        "AWS_SESSION_TOKEN": "token-value-never-shown",
        "AWS_DEFAULT_REGION": "eu-central-1",
    ]

    @Test("s3://BUCKET/PREFIX with AWS's endpoint for the region")
    func awsDefaults() throws {
        let c = try S3Configuration.fromEnvironment(repository: "s3://my-bucket/stores/prod/", environment: environment)
        #expect(c.bucket == "my-bucket")
        #expect(c.prefix == "stores/prod")
        #expect(c.region == "eu-central-1")
        #expect(c.endpoint.description == "https://s3.eu-central-1.amazonaws.com")
        #expect(c.credentials.sessionToken == "token-value-never-shown")
        #expect(c.addressing == .path)
        #expect(!"\(c.credentials)".contains("never-shown"))
        #expect(!"\(c)".contains("never-shown"))
    }

    @Test("AWS_REGION wins over AWS_DEFAULT_REGION; AWS_ENDPOINT_URL moves the endpoint")
    func overrides() throws {
        var env = environment
        env["AWS_REGION"] = "us-west-2"
        env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:8333/"
        let c = try S3Configuration.fromEnvironment(repository: "s3://bucket", environment: env)
        #expect(c.region == "us-west-2")
        #expect(c.endpoint == S3Endpoint(secure: false, host: "127.0.0.1", port: 8333))
        #expect(c.prefix == "")
    }

    @Test("restic's s3:http://HOST:PORT/BUCKET/PREFIX form")
    func resticForm() throws {
        let c = try S3Configuration.fromEnvironment(repository: "s3:http://10.0.0.1:9000/bkt/a/b", environment: environment)
        #expect(c.endpoint.description == "http://10.0.0.1:9000")
        #expect(c.bucket == "bkt")
        #expect(c.prefix == "a/b")
    }

    @Test("a missing variable is named, with what to do")
    func missingVariables() {
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            var env = environment
            env[name] = nil
            #expect {
                _ = try S3Configuration.fromEnvironment(repository: "s3://bucket", environment: env)
            } throws: { error in
                guard case .invalidConfiguration(let variable, _, _) = error as? ObjectStorageError else { return false }
                let text = "\(error)"
                return variable == name && text.hasPrefix(name) && text.contains("set it") && !text.contains("never-shown")
            }
        }
    }

    @Test("malformed endpoint, repository and bucket are refused clearly")
    func malformed() {
        var env = environment
        env["AWS_ENDPOINT_URL"] = "ftp://x"
        #expect { _ = try S3Configuration.fromEnvironment(repository: "s3://bucket", environment: env) } throws: {
            "\($0)".contains("AWS_ENDPOINT_URL") && !"\($0)".contains("never-shown")
        }
        #expect { _ = try S3Configuration.fromEnvironment(repository: "/local/path", environment: environment) } throws: {
            "\($0)".contains("s3://BUCKET/PREFIX")
        }
        #expect { _ = try S3Configuration.fromEnvironment(repository: "s3://Bad_Bucket/x", environment: environment) } throws: {
            "\($0)".contains("Bad_Bucket")
        }
    }

    @Test("endpoint parsing")
    func endpoints() {
        #expect(S3Endpoint(url: "https://s3.amazonaws.com")?.authority == "s3.amazonaws.com")
        #expect(S3Endpoint(url: "http://h:80")?.authority == "h")
        #expect(S3Endpoint(url: "http://h:8333")?.authority == "h:8333")
        #expect(S3Endpoint(url: "http://h/path") == nil)
        #expect(S3Endpoint(url: "http://h:0") == nil)
        #expect(S3Endpoint(url: "h:80") == nil)
    }

    @Test("retry waits grow and stay within the cap")
    func backoff() {
        let policy = S3RetryPolicy(initialBackoff: .milliseconds(100), maximumBackoff: .seconds(1))
        var g = SystemRandomNumberGenerator()
        for attempt in 1...20 {
            let wait = policy.backoff(afterAttempt: attempt, using: &g)
            let cap = min(Duration.seconds(1), .milliseconds(100) * (1 << min(attempt - 1, 30)))
            #expect(wait >= .zero && wait <= cap)
        }
    }
}
