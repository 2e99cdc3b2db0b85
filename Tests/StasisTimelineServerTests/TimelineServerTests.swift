import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import StasisJSON
import StasisSessions
import StasisStoreTestSupport
import Synchronization
import Testing
@testable import StasisTimelineServer

/// Invariants checked, over a real loopback socket: with a token configured, a request without
/// it or with a wrong one gets 401 and nothing else; the token works as a bearer header, as
/// `?token=` (which sets an HttpOnly cookie) and as that cookie; without a token only loopback
/// addresses are accepted (also as the Host a browser sends); the JSON endpoints answer what
/// the library answers (sessions with filters, events by range, search, checkpoint diff, a file
/// at a checkpoint); HTML in a file comes back as a JSON string, never as a page; a path
/// outside the disk image and bad parameters are refused by name; concurrent clients all get
/// their answers.
@Suite("stasis serve --http", .enabled(if: FileManager.default.isExecutableFile(atPath: "/sbin/mkfs.ext4") || FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.ext4")))
struct TimelineServerTests {
    final class Fixture: Sendable {
        let path: String
        let sessions: SessionStore
        let session: String, other: String
        let first: String, second: String

        init() throws {
            path = NSTemporaryDirectory() + "stasis-http-" + UUID().uuidString.prefix(8)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            sessions = SessionStore(store: try TestStores.create(at: path + "/store"))
            session = try sessions.createSession(labels: ["agent": "alpha"]).id
            other = try sessions.createSession(labels: ["agent": "beta"]).id
            try sessions.append(session, [
                EventInput(kind: .commandStarted, data: ["command": "cat /etc/passwd"]),
                EventInput(kind: .output, data: ["stream": "stdout", "data": "root:x:0:0\n"]),
                EventInput(kind: .commandExited, data: ["code": 0]),
            ])
            try sessions.append(other, [EventInput(kind: .note, data: ["text": "nothing to see"])])
            let tree = path + "/tree"
            try FileManager.default.createDirectory(atPath: tree + "/etc", withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: tree + "/etc/hostname", contents: Data("sandbox\n".utf8))
            try Self.mkfs(tree, path + "/a.img")
            first = try sessions.createCheckpoint(session, CheckpointSpec(images: [.init(name: "disk:root", path: path + "/a.img")])).id
            FileManager.default.createFile(atPath: tree + "/page.html", contents: Data("<script>alert('x')</script><img src=x onerror=alert(1)>\n".utf8))
            try Self.mkfs(tree, path + "/b.img")
            second = try sessions.createCheckpoint(session, CheckpointSpec(images: [.init(name: "disk:root", path: path + "/b.img")])).id
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        static func mkfs(_ tree: String, _ image: String) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ["/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4"].first { FileManager.default.isExecutableFile(atPath: $0) }!)
            p.arguments = ["-q", "-F", "-d", tree, "-b", "4096", image, "16M"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
        }
    }

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
    }

    /// Runs the server on 127.0.0.1 (a free port) for the duration of `body`.
    func serving(_ sessions: SessionStore, token: String?, _ body: (Int) async throws -> Void) async throws {
        let port = Mutex<Int?>(nil)
        let config = try TimelineServerConfiguration(address: "127.0.0.1:0", token: token)
        let server = Task {
            try await TimelineServer.run(config, sessions: sessions) { line in
                port.withLock { $0 = Int(line.split(separator: ":").last ?? "") }
            }
        }
        defer { server.cancel() }
        var waited = 0
        while port.withLock({ $0 }) == nil {
            try await Task.sleep(for: .milliseconds(20))
            waited += 1
            try #require(waited < 1500, "the server did not announce its port")
        }
        try await body(port.withLock { $0 }!)
        server.cancel()
        _ = await server.result
    }

    func get(_ port: Int, _ path: String, headers: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        // A bound against a hang, not a speed: the in-process server shares the concurrency
        // threads that microVM tests of the same run may hold for minutes.
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(600))
        let body = try await response.body.collect(upTo: 64 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: Array(buffer: body))
    }

    @Test("a token is required once configured; the JSON endpoints answer the library's queries")
    func tokenAndEndpoints() async throws {
        let f = try Fixture()
        let token = "t0ken-\(UUID().uuidString)"
        let auth = [("Authorization", "Bearer \(token)")]
        try await serving(f.sessions, token: token) { port in
            for path in ["/", "/api/sessions", "/sessions/\(f.session)", "/api/search?q=passwd", "/api/checkpoints/\(f.first)/file?path=/etc/hostname"] {
                let none = try await get(port, path)
                #expect(none.status == 401, "\(path)")
                #expect(none.text.contains("needs a token") && !none.text.contains("passwd") && !none.text.contains("sandbox"))
                #expect(try await get(port, path, headers: [("Authorization", "Bearer wrong")]).status == 401)
                #expect(try await get(port, path, headers: [("Cookie", "stasis_token=wrong")]).status == 401)
            }
            // ?token= once, then the cookie it set.
            let first = try await get(port, "/?token=\(token)")
            #expect(first.status == 200 && first.text.contains(String(f.session.prefix(12))))
            let cookie = try #require(first.headers.first(name: "Set-Cookie"))
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
            let again = try await get(port, "/api/sessions", headers: [("Cookie", String(cookie.split(separator: ";")[0]))])
            #expect(again.status == 200 && again.json.arrayValue?.count == 2)

            let alpha = try await get(port, "/api/sessions?label=agent=alpha", headers: auth)
            #expect(alpha.json.arrayValue?.compactMap { $0["id"]?.stringValue } == [f.session])
            #expect(try await get(port, "/api/sessions?state=running", headers: auth).json.arrayValue?.isEmpty == true)
            #expect(try await get(port, "/api/sessions?since=2000-01-01T00:00:00Z&state=idle", headers: auth).json.arrayValue?.count == 2)

            let events = try await get(port, "/api/sessions/\(f.session)/events?from=1&count=2", headers: auth)
            #expect(events.headers.first(name: "Content-Type")?.hasPrefix("application/json") == true)
            #expect(events.json["events"]?.arrayValue?.compactMap { $0["seq"]?.intValue } == [1, 2])
            #expect(events.json["size"]?.intValue == 5)    // three appended, two checkpoint events
            let outputs = try await get(port, "/api/sessions/\(f.session)/events?kind=output", headers: auth)
            #expect(outputs.json["events"]?.arrayValue?.compactMap { $0["seq"]?.intValue } == [1])

            let search = try await get(port, "/api/search?q=%2Fetc%2Fpasswd", headers: auth)
            #expect(search.json["hits"]?.arrayValue?.compactMap { $0["seq"]?.intValue } == [0])
            #expect(search.json["hits"]?.arrayValue?.first?["session"]?.stringValue == f.session)

            let checkpoints = try await get(port, "/api/sessions/\(f.session)/checkpoints", headers: auth)
            #expect(checkpoints.json.arrayValue?.compactMap { $0["id"]?.stringValue } == [f.first, f.second])
            let diff = try await get(port, "/api/diff?from=\(f.first)&to=\(f.second)", headers: auth)
            #expect(diff.status == 200)
            let added = diff.json["images"]?.arrayValue?.first?["files"]?["added"]?.arrayValue?.compactMap { $0["path"]?.stringValue }
            #expect(added == ["/page.html"])

            // HTML in a file is a JSON string; the raw form is an attachment.
            let file = try await get(port, "/api/checkpoints/\(f.second)/file?path=/page.html", headers: auth)
            #expect(file.status == 200 && file.headers.first(name: "X-Content-Type-Options") == "nosniff")
            #expect(file.json["text"]?.stringValue == "<script>alert('x')</script><img src=x onerror=alert(1)>\n")
            let raw = try await get(port, "/api/checkpoints/\(f.second)/file?path=/page.html&raw=1", headers: auth)
            #expect(raw.headers.first(name: "Content-Type") == "application/octet-stream")
            #expect(raw.headers.first(name: "Content-Disposition")?.hasPrefix("attachment") == true)

            let page = try await get(port, "/sessions/\(f.session)", headers: auth)
            #expect(page.status == 200 && page.text.contains("id=\"stasis-export\"") && page.text.contains("Content-Security-Policy"))
        }
    }

    @Test("bad parameters, unknown ids and paths outside the image are refused by name")
    func refusals() async throws {
        let f = try Fixture()
        try await serving(f.sessions, token: nil) { port in
            func refused(_ path: String, _ status: Int, _ words: String) async throws {
                let a = try await get(port, path)
                #expect(a.status == status, "\(path): \(a.status) \(a.text)")
                #expect(a.json["error"]?.stringValue?.contains(words) == true, "\(path): \(a.text)")
            }
            try await refused("/api/checkpoints/\(f.first)/file?path=/../etc/hostname", 400, "outside the image")
            try await refused("/api/checkpoints/\(f.first)/file?path=/etc/missing", 404, "does not exist")
            try await refused("/api/checkpoints/\(f.first)/file", 400, "path")
            try await refused("/api/sessions/\(f.session)/events?count=0", 400, "count")
            try await refused("/api/sessions/\(f.session)/events?from=x", 400, "'x' is not an integer")
            try await refused("/api/sessions/ffffffffffff/events", 404, "no session")
            try await refused("/api/search?q=--", 400, "q")
            try await refused("/api/search?q=a&kind=bogus", 400, "kind")
            try await refused("/api/sessions?state=asleep", 400, "state")
            try await refused("/api/sessions?since=yesterday", 400, "since")
            try await refused("/api/diff?from=\(f.first)", 400, "from/to")
            // No token: loopback only, also as the Host a browser names.
            #expect(try await get(port, "/api/sessions").status == 200)
            let rebound = try await get(port, "/api/sessions", headers: [("Host", "attacker.example:80")])
            #expect(rebound.status == 403 && !rebound.text.contains(f.session))
        }
    }

    @Test("concurrent clients all get their answers")
    func concurrent() async throws {
        let f = try Fixture()
        try await serving(f.sessions, token: "x") { port in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<24 {
                    group.addTask {
                        let path = i % 2 == 0 ? "/api/search?q=passwd" : "/api/sessions/\(f.session)/events?from=0&count=3"
                        let a = try await get(port, path, headers: [("Authorization", "Bearer x")])
                        return a.status == 200 && a.json != .null ? 1 : 0
                    }
                }
                var ok = 0
                for try await n in group { ok += n }
                #expect(ok == 24)
            }
        }
    }

    @Test("addresses: loopback without a token, anything else only with one")
    func addresses() throws {
        #expect(throws: TimelineServerError.self) { try TimelineServerConfiguration(address: "0.0.0.0:8080", token: nil) }
        #expect(throws: TimelineServerError.self) { try TimelineServerConfiguration(address: "10.1.2.3:8080", token: "") }
        #expect(throws: TimelineServerError.self) { try TimelineServerConfiguration(address: "127.0.0.1", token: nil) }
        #expect(throws: TimelineServerError.self) { try TimelineServerConfiguration(address: "127.0.0.1:70000", token: nil) }
        #expect(try TimelineServerConfiguration(address: "0.0.0.0:0", token: "t").host == "0.0.0.0")
        #expect(try TimelineServerConfiguration(address: "[::1]:0", token: nil).host == "::1")
        #expect(try TimelineServerConfiguration(address: "localhost:8080", token: nil).port == 8080)
        #expect(!TimelineServerConfiguration.isLoopback("127.0.0.1.example.com"))
        #expect(TimelineServerConfiguration.isLoopback("127.8.9.10"))
    }
}
