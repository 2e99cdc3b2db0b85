extension S3Configuration {
    /// Builds a configuration from a repository URL and an environment dictionary that the caller
    /// passes in (usually its process environment), following the AWS SDKs' and restic's names:
    ///
    /// - repository `s3://BUCKET[/PREFIX]`: the endpoint is AWS_ENDPOINT_URL_S3, else
    ///   AWS_ENDPOINT_URL, else AWS's endpoint for the region;
    ///   or restic's `s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]`, which names the endpoint itself;
    /// - AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (required), AWS_SESSION_TOKEN (optional);
    /// - AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.
    ///
    /// Errors name the variable (never its value) and say what to set.
    public static func fromEnvironment(
        repository: String, environment: [String: String],
        addressing: S3Addressing = .path, retry: S3RetryPolicy = S3RetryPolicy()
    ) throws(ObjectStorageError) -> S3Configuration {
        func value(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingSpaces, !v.isEmpty else { return nil }
            return v
        }
        func required(_ name: String, _ remedy: String) throws(ObjectStorageError) -> String {
            guard let v = value(name) else {
                throw .invalidConfiguration(variable: name, problem: "is not set", remedy: remedy)
            }
            return v
        }

        let region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1"
        let (explicitEndpoint, bucketAndPrefix) = try splitRepository(repository)
        let endpoint: S3Endpoint
        if let explicitEndpoint {
            endpoint = explicitEndpoint
        } else if let name = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"].first(where: { value($0) != nil }) {
            guard let parsed = S3Endpoint(url: value(name)!) else {
                throw .invalidConfiguration(
                    variable: name, problem: "is not an http:// or https:// URL of the form SCHEME://HOST[:PORT]",
                    remedy: "set it to the S3 service's address, e.g. http://127.0.0.1:8333")
            }
            endpoint = parsed
        } else {
            endpoint = .aws(region: region)
        }

        let parts = bucketAndPrefix.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let bucket = String(parts.first ?? "")
        if let problem = bucketProblem(bucket) {
            throw .invalidConfiguration(
                variable: nil, problem: "the repository '\(repository)' names bucket '\(bucket)', which \(problem)",
                remedy: "write it as s3://BUCKET/PREFIX with a bucket of 3 to 63 lowercase letters, digits, '.' and '-'")
        }
        let prefix = parts.count > 1 ? String(parts[1]) : ""
        if !prefix.split(separator: "/").isEmpty, ObjectKey.problem(with: prefix.split(separator: "/").joined(separator: "/")) != nil {
            throw .invalidConfiguration(
                variable: nil, problem: "the repository '\(repository)' has prefix '\(prefix)', which is not a valid key prefix",
                remedy: "use printable ASCII without '.' or '..' segments")
        }

        let credentials = S3Credentials(
            accessKeyID: try required("AWS_ACCESS_KEY_ID", "set it to the access key id of an account that may read and write the bucket"),
            secretAccessKey: try required("AWS_SECRET_ACCESS_KEY", "set it to the secret access key that belongs to AWS_ACCESS_KEY_ID"),
            sessionToken: value("AWS_SESSION_TOKEN"))
        return S3Configuration(endpoint: endpoint, region: region, bucket: bucket, prefix: prefix,
                               credentials: credentials, addressing: addressing, retry: retry)
    }

    /// `s3://BUCKET/PREFIX` → (nil, "BUCKET/PREFIX"); `s3:https://HOST/BUCKET/PREFIX` → (endpoint, …).
    static func splitRepository(_ repository: String) throws(ObjectStorageError) -> (S3Endpoint?, String) {
        if repository.hasPrefix("s3://") {
            return (nil, String(repository.dropFirst(5)))
        }
        if repository.hasPrefix("s3:http://") || repository.hasPrefix("s3:https://") {
            let url = repository.dropFirst(3)
            let afterScheme = url.dropFirst(url.hasPrefix("https://") ? 8 : 7)
            let slash = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
            if let endpoint = S3Endpoint(url: String(url[..<slash])) {
                return (endpoint, String(url[slash...].drop(while: { $0 == "/" })))
            }
        }
        throw .invalidConfiguration(
            variable: nil, problem: "'\(repository)' is not an S3 repository URL",
            remedy: "write it as s3://BUCKET/PREFIX (with AWS_ENDPOINT_URL for a service other than AWS) or s3:http://HOST:PORT/BUCKET/PREFIX")
    }

    /// S3's bucket naming rules, in short.
    static func bucketProblem(_ bucket: String) -> String? {
        if bucket.count < 3 || bucket.count > 63 { return "is not 3 to 63 characters long" }
        for c in bucket.utf8 {
            let ok = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "-")
            if !ok { return "has a character other than lowercase letters, digits, '.' and '-'" }
        }
        return nil
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}
