import Foundation
import Testing
@testable import StasisObjectStorage

/// Invariants checked: for every request of AWS's SigV4 test suite the signer produces exactly
/// the published canonical request, string to sign and Authorization header; S3's published
/// examples (ranged GET with an empty-body hash, PUT with a signed payload hash) come out
/// exactly; UNSIGNED-PAYLOAD goes into the canonical request as such; the timestamp formatter
/// agrees with known dates.
@Suite("SigV4 against AWS's published vectors")
struct SigV4TestSuiteTests {
    static let suiteDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Resources/aws-sig-v4-test-suite").path

    /// Every folder holding a NAME.req, relative to the suite (e.g. "normalize-path/get-slash").
    static let vectors: [String] = {
        let enumerator = FileManager.default.enumerator(atPath: suiteDirectory)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".req") { found.append(String(path.dropLast(4).split(separator: "/").dropLast().joined(separator: "/"))) }
        }
        return found.sorted()
    }()

    @Test("the suite is all there")
    func suitePresent() {
        #expect(Self.vectors.count == 31, "found \(Self.vectors)")
    }

    @Test("canonical request, string to sign and Authorization match", arguments: vectors)
    func vector(_ folder: String) throws {
        let name = String(folder.split(separator: "/").last!)
        func file(_ ext: String) throws -> String {
            try String(contentsOfFile: "\(Self.suiteDirectory)/\(folder)/\(name).\(ext)", encoding: .utf8)
        }
        let request = try ParsedRequest(try file("req"))
        let signer = SigV4Signer(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                 region: "us-east-1", service: "service", normalizePath: true)
        let signed = signer.sign(
            SigV4Signer.Request(method: request.method, path: request.path, query: request.query,
                                headers: request.headers, payloadHash: ObjectDigest.of(Array(request.body.utf8)).hex),
            timestamp: "20150830T123600Z")
        let creq = try file("creq"), sts = try file("sts")
        #expect(signed.canonicalRequest == creq)
        // Two vectors of the suite are inconsistent as published: their .sts hashes a canonical
        // request other than their own .creq. For those only the .creq can be checked; the test
        // below pins the list, so no other vector can slip through unchecked.
        if Self.inconsistentAsPublished.contains(name) {
            #expect(!sts.hasSuffix(ObjectDigest.of(Array(creq.utf8)).hex))
            return
        }
        #expect(signed.stringToSign == sts)
        #expect(signed.authorization == (try file("authz")))
    }

    static let inconsistentAsPublished: Set<String> = ["post-x-www-form-urlencoded", "post-x-www-form-urlencoded-parameters"]

    @Test("S3 example: GET Object, first 10 bytes, empty payload hash")
    func s3GetObjectExample() {
        let signer = SigV4Signer(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                 region: "us-east-1", service: "s3", normalizePath: false)
        let signed = signer.sign(SigV4Signer.Request(
            method: "GET", path: "/test.txt",
            headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                      ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash), ("x-amz-date", "20130524T000000Z")],
            payloadHash: SigV4Signer.emptyPayloadHash), timestamp: "20130524T000000Z")
        #expect(signed.stringToSign.hasSuffix("\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"))
        #expect(signed.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("S3 example: PUT Object with a signed payload (key with '$')")
    func s3PutObjectExample() {
        let body = Array("Welcome to Amazon S3.".utf8)
        let hash = ObjectDigest.of(body).hex
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let signer = SigV4Signer(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                 region: "us-east-1", service: "s3", normalizePath: false)
        let signed = signer.sign(SigV4Signer.Request(
            method: "PUT", path: "/test$file.text",
            headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                      ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                      ("x-amz-content-sha256", hash)],
            payloadHash: hash), timestamp: "20130524T000000Z")
        #expect(signed.canonicalRequest.hasPrefix("PUT\n/test%24file.text\n\n"))
        #expect(signed.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("UNSIGNED-PAYLOAD is signed as the literal string; S3 paths are not normalized")
    func unsignedPayloadAndS3Paths() {
        let signer = SigV4Signer(accessKeyID: "AK", secretAccessKey: "SK", region: "eu-west-1", service: "s3", normalizePath: false)
        let headers: [(name: String, value: String)] = [("host", "h"), ("x-amz-date", "20260101T000000Z")]
        let unsigned = signer.sign(.init(method: "PUT", path: "/b/a//./k", headers: headers, payloadHash: SigV4Signer.unsignedPayload),
                                   timestamp: "20260101T000000Z")
        #expect(unsigned.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
        #expect(unsigned.canonicalRequest.contains("\n/b/a//./k\n"))
        let hashed = signer.sign(.init(method: "PUT", path: "/b/a//./k", headers: headers, payloadHash: ObjectDigest.of([1, 2, 3]).hex),
                                 timestamp: "20260101T000000Z")
        #expect(hashed.signature != unsigned.signature)
        #expect(unsigned.authorization.contains("Credential=AK/20260101/eu-west-1/s3/aws4_request"))
    }

    @Test("x-amz-date timestamps")
    func timestamps() {
        #expect(AmzDate.timestamp(secondsSince1970: 0) == "19700101T000000Z")
        #expect(AmzDate.timestamp(secondsSince1970: 1_440_938_160) == "20150830T123600Z")
        #expect(AmzDate.timestamp(secondsSince1970: 1_709_210_096) == "20240229T123456Z")
        #expect(AmzDate.timestamp(secondsSince1970: 4_102_444_799) == "20991231T235959Z")
    }
}

/// A request file of the suite: `METHOD PATH[?QUERY] HTTP/1.1`, `Name:value` lines (a line
/// starting with whitespace continues the previous header as another value), a blank line, a body.
struct ParsedRequest {
    var method: String
    var path: String
    var query: [(name: String, value: String)] = []
    var headers: [(name: String, value: String)] = []
    var body = ""

    init(_ text: String) throws {
        let (head, body) = text.split(separator: "\n\n", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            .reduce(into: (String?.none, String?.none)) { acc, part in if acc.0 == nil { acc.0 = part } else { acc.1 = part } }
        var lines = (head ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst()
        let firstSpace = requestLine.firstIndex(of: " ")!
        method = String(requestLine[..<firstSpace])
        var target = String(requestLine[requestLine.index(after: firstSpace)...])
        if target.hasSuffix(" HTTP/1.1") { target.removeLast(9) }
        if let q = target.firstIndex(of: "?") {
            for pair in target[target.index(after: q)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append((String(parts[0]), parts.count > 1 ? String(parts[1]) : ""))
            }
            target = String(target[..<q])
        }
        path = target
        for line in lines where !line.isEmpty {
            if line.first == " " || line.first == "\t" {
                let last = headers.removeLast()
                headers.append(last)
                headers.append((last.name, line.trimmingCharacters(in: .whitespaces)))
                continue
            }
            let colon = line.firstIndex(of: ":")!
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        self.body = body ?? ""
    }
}
