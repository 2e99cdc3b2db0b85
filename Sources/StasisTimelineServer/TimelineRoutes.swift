import Foundation
import Hummingbird
import StasisJSON
import StasisSessions

/// The routes of the timeline server: each reads its parameters and calls one query of the
/// sessions library (SessionStore+TimelineQueries, +Search, +Diff, +CheckpointFile).
///
///     GET /                                   sessions (HTML), filtered like /api/sessions
///     GET /sessions/ID                        the session's timeline page (as `history export --format html`)
///     GET /api/sessions?label=K=V&since=&until=&state=running|idle
///     GET /api/sessions/ID/events?from=0&count=1000&since=&until=&kind=K
///     GET /api/sessions/ID/checkpoints
///     GET /api/search?q=QUERY&session=&kind=&limit=&after=
///     GET /api/diff?from=CHECKPOINT&to=CHECKPOINT&files=0|1
///     GET /api/filediff?from=CHECKPOINT&to=CHECKPOINT&path=/etc/hosts&disk=NAME
///     GET /api/checkpoints/ID/file?path=/etc/hosts&disk=NAME[&raw=1]
struct TimelineRoutes: Sendable {
    let sessions: SessionStore
    /// Largest file `/file` returns inside JSON; larger ones come with `raw=1`.
    static let fileLimit = 16 << 20

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { request, _ in try self.index(request) }
        router.get("/sessions/:id") { _, context in try self.page(context.parameters.require("id")) }
        router.get("/api/sessions") { request, _ in try self.handle { () throws(HistoryError) in
            TimelineResponse.json(try sessions.timelineSessions(try Self.filter(request)))
        } }
        router.get("/api/sessions/:id/events") { request, context in
            let id = try context.parameters.require("id")
            return try self.handle { () throws(HistoryError) in try self.events(id, request) }
        }
        router.get("/api/sessions/:id/checkpoints") { _, context in
            let id = try context.parameters.require("id")
            return try self.handle { () throws(HistoryError) in TimelineResponse.json(try sessions.timelineCheckpoints(id)) }
        }
        router.get("/api/search") { request, _ in try self.handle { () throws(HistoryError) in try self.search(request) } }
        router.get("/api/diff") { request, _ in try self.handle { () throws(HistoryError) in try self.diff(request) } }
        router.get("/api/filediff") { request, _ in try self.fileDiff(request) }
        router.get("/api/checkpoints/:id/file") { request, context in
            try self.file(try context.parameters.require("id"), request)
        }
    }

    // MARK: pages

    func index(_ request: Request) throws -> Response {
        try handle { () throws(HistoryError) in
            let q = request.uri.queryParameters
            let list = try sessions.timelineSessions(try Self.filter(request))
            return TimelineResponse.html(TimelineIndexPage.html(sessions: list, label: q["label"].map(String.init) ?? "",
                                                                since: q["since"].map(String.init) ?? "", until: q["until"].map(String.init) ?? "",
                                                                state: q["state"].map(String.init) ?? ""),
                                         policy: TimelineIndexPage.contentSecurityPolicy)
        }
    }

    /// The exported page, streamed as the library writes it (on a thread of its own: the
    /// library's reads block), so that the browser draws the first screen of a large session
    /// while the rest is still coming. The page carries its own Content-Security-Policy (its
    /// script pinned by hash). A failure after the first bytes leaves the page incomplete,
    /// which its own verification reports.
    func page(_ id: String) throws -> Response {
        try handle { () throws(HistoryError) in
            let session = try sessions.resolveSession(id)
            let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
            let finished = SendableFlag()
            continuation.onTermination = { _ in finished.set() }
            let sessions = self.sessions
            Thread.detachNewThread {
                try? sessions.streamTimeline(session) { bytes in
                    if finished.isSet { throw CancellationError() }
                    continuation.yield(ByteBuffer(bytes: bytes))
                }
                continuation.finish()
            }
            var r = Response(status: .ok, body: ResponseBody(asyncSequence: stream))
            r.headers[.contentType] = "text/html; charset=utf-8"
            TimelineResponse.secure(&r)
            return r
        }
    }

    // MARK: JSON

    func events(_ id: String, _ request: Request) throws(HistoryError) -> Response {
        let q = request.uri.queryParameters
        let from = try Self.integer(q["from"], name: "from") ?? 0
        let count = Int(try Self.integer(q["count"], name: "count") ?? 1000)
        var query = EventQuery()
        let kinds = q[values: "kind"].map(String.init)
        if !kinds.isEmpty {
            query.kinds = Set(try kinds.map { k throws(HistoryError) in
                guard let kind = EventKind(rawValue: k) else { throw .badArgument(field: "kind", message: "'\(k)' is not one of \(EventKind.accepted)") }
                return kind
            })
        }
        query.bound(from: try Self.bound(q["since"], name: "since"), to: try Self.bound(q["until"], name: "until"))
        return TimelineResponse.json(try sessions.timelineEvents(id, from: from, count: count, query: query))
    }

    func search(_ request: Request) throws(HistoryError) -> Response {
        let q = request.uri.queryParameters
        guard let text = q["q"], let query = SearchQuery(String(text)) else {
            throw .badArgument(field: "q", message: "give the words to search for (letters or digits), e.g. /api/search?q=passwd")
        }
        var kinds: Set<EventKind>?
        for k in q[values: "kind"] {
            guard let kind = EventKind(rawValue: String(k)) else { throw .badArgument(field: "kind", message: "'\(k)' is not one of \(EventKind.accepted)") }
            kinds = (kinds ?? []).union([kind])
        }
        let search = EventSearch(query: query, session: q["session"].map(String.init), kinds: kinds,
                                 limit: Int(try Self.integer(q["limit"], name: "limit") ?? 100), after: try Self.integer(q["after"], name: "after"))
        return TimelineResponse.json(try sessions.search(search).jsonValue)
    }

    func diff(_ request: Request) throws(HistoryError) -> Response {
        let q = request.uri.queryParameters
        guard let from = q["from"], let to = q["to"] else {
            throw .badArgument(field: "from/to", message: "give two checkpoints: /api/diff?from=CHECKPOINT&to=CHECKPOINT")
        }
        return TimelineResponse.encodable(try sessions.diff(String(from), String(to), files: q["files"] != "0"))
    }

    /// One file's line diff between two checkpoints.
    func fileDiff(_ request: Request) throws -> Response {
        let q = request.uri.queryParameters
        guard let from = q["from"], let to = q["to"], let path = q["path"] else {
            return TimelineResponse.error(.badRequest, "from/to/path: give two checkpoints and a file, e.g. /api/filediff?from=A&to=B&path=/etc/hosts")
        }
        do {
            return TimelineResponse.json(try sessions.timelineFileDiff(from: String(from), to: String(to), path: String(path), disk: q["disk"].map(String.init)))
        } catch {
            return TimelineResponse.error(Self.status(error), error.description)
        }
    }

    /// A file as it was at a checkpoint: JSON with its text (UTF-8) or base64, or with `raw=1`
    /// the bytes as an attachment that the browser saves, never renders.
    func file(_ id: String, _ request: Request) throws -> Response {
        let q = request.uri.queryParameters
        guard let path = q["path"] else { return TimelineResponse.error(.badRequest, "path: give the file's absolute path inside the disk image, e.g. ?path=/etc/hosts") }
        let raw = q["raw"] == "1"
        var bytes: [UInt8] = []
        var tooLarge = false
        let info: CheckpointFile
        do {
            info = try sessions.readFile(atCheckpoint: id, path: String(path), disk: q["disk"].map(String.init)) { chunk in
                if !raw, bytes.count + chunk.count > Self.fileLimit { tooLarge = true; return }
                bytes.append(contentsOf: chunk)
            }
        } catch {
            return TimelineResponse.error(Self.status(error), error.description)
        }
        if tooLarge {
            return TimelineResponse.error(.contentTooLarge, "\(path) is \(bytes.count)+ bytes, more than \(Self.fileLimit) shown inline: add raw=1 to download it, or run `stasis checkpoint cat`")
        }
        if raw {
            var r = TimelineResponse.bytes(bytes, type: "application/octet-stream")
            let name = (String(path) as NSString).lastPathComponent.filter { $0.isLetter || $0.isNumber || ".-_".contains($0) }
            r.headers[.contentDisposition] = "attachment; filename=\"\(name.isEmpty ? "file" : name)\""
            r.headers[.contentSecurityPolicy] = "sandbox; default-src 'none'"
            return r
        }
        var body: [String: JSONValue] = ["checkpoint": .string(info.checkpoint), "disk": .string(info.disk), "path": .string(info.path),
                                         "size": .int(info.size), "sha256": .string(info.sha256), "mode": .string(info.mode), "mtime": .int(info.mtime)]
        if let text = String(validating: bytes, as: UTF8.self) { body["text"] = .string(text) } else { body["base64"] = .string(Data(bytes).base64EncodedString()) }
        return TimelineResponse.json(.object(body))
    }

    // MARK: parameters and errors

    static func filter(_ request: Request) throws(HistoryError) -> SessionFilter {
        let q = request.uri.queryParameters
        var filter = SessionFilter()
        for item in q[values: "label"] where !item.isEmpty {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw .badArgument(field: "label", message: "'\(item)' is not NAME=VALUE")
            }
            filter.labels[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        filter.createdSince = try date(q["since"], name: "since")
        filter.createdUntil = try date(q["until"], name: "until")
        if let s = q["state"], !s.isEmpty {
            guard let state = SessionActivity(rawValue: String(s)) else { throw .badArgument(field: "state", message: "'\(s)' is not running or idle") }
            filter.state = state
        }
        return filter
    }

    static func date(_ text: Substring?, name: String) throws(HistoryError) -> Date? {
        guard let text, !text.isEmpty else { return nil }
        guard case .time(let ns)? = EventBound.parse(String(text)) else {
            throw .badArgument(field: name, message: "'\(text)' is not an RFC 3339 time (2026-12-07T13:00:00Z) or a duration before now (10m, 2h, 1d)")
        }
        return Date(timeIntervalSince1970: Double(ns) / 1e9)
    }

    static func bound(_ text: Substring?, name: String) throws(HistoryError) -> EventBound? {
        guard let text, !text.isEmpty else { return nil }
        guard let b = EventBound.parse(String(text)) else { throw .badArgument(field: name, message: "'\(text)' is not \(EventBound.help)") }
        return b
    }

    static func integer(_ text: Substring?, name: String) throws(HistoryError) -> Int64? {
        guard let text, !text.isEmpty else { return nil }
        guard let n = Int64(text) else { throw .badArgument(field: name, message: "'\(text)' is not an integer") }
        return n
    }

    /// A library error as an answer: what was not found is 404, bad parameters 400, the rest 500.
    func handle(_ body: () throws(HistoryError) -> Response) throws -> Response {
        do { return try body() } catch { return TimelineResponse.error(Self.status(error), error.description) }
    }

    static func status(_ error: HistoryError) -> HTTPResponse.Status {
        switch error {
        case .sessionNotFound, .checkpointNotFound, .eventNotFound: .notFound
        case .badArgument, .ambiguous, .badEvent: .badRequest
        default: .internalServerError
        }
    }

    static func status(_ error: CheckpointFileError) -> HTTPResponse.Status {
        switch error {
        case .history(let e): status(e)
        case .badPath, .disk, .notARegularFile: .badRequest
        case .notFound: .notFound
        case .checkpoint, .unreadableDisk: .unprocessableContent
        }
    }
}
