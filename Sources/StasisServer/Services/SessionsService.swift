import Foundation
import GRPCCore
import StasisAPI
import StasisJSON
import StasisSessions

/// Sessions and their tamper-evident history, for platforms that record what an agent did.
struct SessionsService: Stasis_V1_Sessions.SimpleServiceProtocol {
    let sessions: SessionStore
    let limits: MessageLimit

    private func call<T: Sendable>(_ body: @escaping @Sendable () throws(HistoryError) -> T) async throws -> T {
        try await Offload.run { () throws -> T in
            return try body()
        }
    }

    func create(request: Stasis_V1_CreateSessionRequest, context: ServerContext) async throws -> Stasis_V1_Session {
        let sessions = self.sessions, labels = request.labels
        return .init(try await call { () throws(HistoryError) in try sessions.createSession(labels: labels) })
    }

    func get(request: Stasis_V1_GetSessionRequest, context: ServerContext) async throws -> Stasis_V1_Session {
        guard !request.session.isEmpty else { throw RPCError.invalid("session", "must not be empty") }
        let sessions = self.sessions, id = request.session
        return .init(try await call { () throws(HistoryError) in try sessions.session(id) })
    }

    func list(request: Stasis_V1_ListSessionsRequest, context: ServerContext) async throws -> Stasis_V1_ListSessionsResponse {
        let sessions = self.sessions
        var r = Stasis_V1_ListSessionsResponse()
        r.sessions = try await call { () throws(HistoryError) in try sessions.sessions() }.map { .init($0) }
        return r
    }

    func append(request: Stasis_V1_AppendRequest, context: ServerContext) async throws -> Stasis_V1_AppendResponse {
        try limits.check(request.payloadBytes, "Append")
        guard !request.session.isEmpty else { throw RPCError.invalid("session", "must not be empty") }
        var inputs: [EventInput] = []
        for (i, e) in request.events.enumerated() {
            // The same checks as `stasis history append`: known kind, required fields and types.
            var fields: [String: JSONValue] = [:]
            if !e.dataJson.isEmpty {
                guard let object = (try? JSONValue.parse(e.dataJson))?.objectValue else {
                    throw RPCError.invalid("events[\(i)].data_json", "must be a JSON object")
                }
                fields = object
            }
            fields["kind"] = .string(e.kind)
            if e.timeNs != 0 { fields["time"] = .int(e.timeNs) }
            do {
                inputs.append(try EventInput.validate(.object(fields), line: i))
            } catch .badEvent(_, let message) {
                throw RPCError.invalid("events[\(i)]", message + "; nothing was appended")
            } catch {
                throw error
            }
        }
        let sessions = self.sessions, id = request.session, batch = inputs
        let range = try await call { () throws(HistoryError) in try sessions.append(id, batch) }
        var r = Stasis_V1_AppendResponse()
        r.firstSeq = range.lowerBound
        r.endSeq = range.upperBound
        return r
    }

    func events(request: Stasis_V1_EventsRequest, response: RPCWriter<Stasis_V1_Event>, context: ServerContext) async throws {
        guard !request.session.isEmpty else { throw RPCError.invalid("session", "must not be empty") }
        var kinds: Set<EventKind>? = nil
        if !request.kinds.isEmpty {
            var set = Set<EventKind>()
            for k in request.kinds {
                guard let kind = EventKind(rawValue: k) else { throw RPCError.invalid("kinds", "unknown kind \"\(k)\"") }
                set.insert(kind)
            }
            kinds = set
        }
        let query = EventQuery(since: request.since == 0 ? nil : request.since, kinds: kinds,
                               last: request.last == 0 ? nil : Int(request.last))
        let sessions = self.sessions, id = request.session
        let events = try await call { () throws(HistoryError) in try sessions.events(id, query) }
        for e in events {
            var out = Stasis_V1_Event()
            out.seq = e.seq
            out.timeNs = e.time
            out.kind = e.kind.rawValue
            out.dataJson = JSONValue.object(e.data).canonicalString
            try await response.write(out)
        }
    }

    func verify(request: Stasis_V1_VerifyRequest, context: ServerContext) async throws -> Stasis_V1_VerifyResponse {
        guard !request.session.isEmpty else { throw RPCError.invalid("session", "must not be empty") }
        let sessions = self.sessions, id = request.session
        let (result, head) = try await call { () throws(HistoryError) in
            (try sessions.verifyHistory(id), try? sessions.treeHead(id))
        }
        var r = Stasis_V1_VerifyResponse()
        r.ok = result.ok
        r.events = result.events
        r.root = head?.root ?? ""
        r.problem = result.problems.first ?? ""
        return r
    }
}

extension Stasis_V1_Session {
    init(_ s: SessionRecord) {
        self.init()
        id = s.id
        labels = s.labels
        historySize = s.historySize
        checkpoints = UInt32(s.checkpoints)
        createdAt = s.createdAt.timeIntervalSince1970
    }
}
