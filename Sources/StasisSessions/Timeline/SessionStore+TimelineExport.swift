import Foundation
import StasisCatalog
import StasisJSON
import StasisStore

/// What `history export --format html` wrote.
public struct TimelineExportResult: Sendable, Codable {
    public var path: String
    public var session: String
    public var events: Int64
    public var checkpoints: Int
    public var blobs: Int
    /// Blobs that events name but this store does not hold: the page says so where they are used.
    public var missingBlobs: [String]
    public var bytes: Int64
}

extension SessionStore {
    /// Writes one self-contained HTML page that shows a session's history on a time axis and
    /// verifies it in the browser (Formats/timeline.md): the events as their stored canonical
    /// bodies with the leaf and chain hashes as stored, the signed history head, every
    /// checkpoint record with its signature, the store's public key, and the values of blobs
    /// the events refer to. Nothing is loaded from the network.
    /// With `precomputeDiffs`, the diffs of consecutive checkpoints are embedded (bounded,
    /// `precomputedDiffs`) for the checkpoint diff view offline; a served page asks for them.
    public func exportTimeline(_ sessionIDOrPrefix: String, to path: String, precomputeDiffs: Bool = true) throws(HistoryError) -> TimelineExportResult {
        let session = try resolveSession(sessionIDOrPrefix)
        if FileManager.default.fileExists(atPath: path) {
            throw .badArgument(field: "-o", message: "'\(path)' already exists: choose another file (an exported page is evidence; it is never overwritten)")
        }
        var page = try TimelineDocument(path: path)
        do throws(HistoryError) {
            let written = try writeTimeline(session, into: &page, precomputeDiffs: precomputeDiffs)
            try page.finish()
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
            return TimelineExportResult(path: path, session: session, events: written.events, checkpoints: written.checkpoints,
                                        blobs: written.blobs, missingBlobs: written.missing, bytes: size ?? 0)
        } catch {
            page.abandon()
            throw error
        }
    }

    /// The same page written to `sink` as it is made, 1 MiB at a time (for a server: the
    /// browser draws the first screen while the rest is still being written). Without
    /// precomputed diffs: a served page asks for them.
    public func streamTimeline(_ sessionIDOrPrefix: String, to sink: @escaping ([UInt8]) throws -> Void) throws(HistoryError) {
        let session = try resolveSession(sessionIDOrPrefix)
        var page = TimelineDocument(sink: sink)
        _ = try writeTimeline(session, into: &page, precomputeDiffs: false)
        try page.finish()
    }

    private func writeTimeline(_ session: String, into page: inout TimelineDocument, precomputeDiffs: Bool) throws(HistoryError)
        -> (events: Int64, checkpoints: Int, blobs: Int, missing: [String]) {
        let storeKey = try signingKey().publicKeyHex
        let checkpoints = try self.checkpoints(session)
        let record = try self.session(session)
        let head = try read { db -> (size: Int64, chain: [UInt8], signature: [UInt8], signer: String?) in
            guard let r = try db.queryOne("SELECT head_size, head_chain, head_signature, head_signer FROM sessions WHERE id = ?", session) else {
                throw HistoryError.sessionNotFound(session)
            }
            return (try r.int("head_size"), r.optionalBlob("head_chain") ?? HistoryHashing.genesis, r.optionalBlob("head_signature") ?? [], r.optionalText("head_signer"))
        }
        // An empty history has no signed head yet: sign the genesis head now (as bundles do).
        let headSignature = head.size == 0 ? try signingKey().signHead(session: session, size: 0, chain: HistoryHashing.genesis) : head.signature

        let script = TimelineScript.source
        do {
            try page.raw(TimelinePage.head(title: "Stasis session \(session)", scriptHash: TimelineDocument.scriptHash(script)))
            let preamble: JSONValue = [
                "format": "stasis-timeline", "version": 1, "exported": .int(Self.nowNanoseconds()),
                "session": ["id": .string(session), "created": .double(record.createdAt.timeIntervalSince1970),
                            "labels": .object(record.labels.mapValues { .string($0) }), "state": .string(try sessionState(session))],
                "publicKey": .string(storeKey),
                "head": ["size": .int(head.size), "chain": .string(StoreKey.hex(head.chain)),
                         "signature": .string(StoreKey.hex(headSignature)), "signer": .string(head.signer ?? storeKey)],
                "related": .array(try relatedSessions(session, labels: record.labels)),
            ]
            // The preamble's closing brace is replaced by the checkpoints.
            try page.json(String(preamble.canonicalString.dropLast()))
            try page.raw(",\"checkpoints\":[")
            for (n, c) in checkpoints.enumerated() {
                try page.raw((n == 0 ? "" : ",") + "{\"id\":\"\(c.id)\",\"record\":")
                try page.string(c.record.canonicalBytes)
                try page.raw(",\"signature\":\"\(StoreKey.hex(c.signature))\",\"signer\":\"\(c.signerKey ?? storeKey)\"}")
            }
            try page.raw("]}")
            try page.raw(TimelinePage.eventsStart)
            var hashes: [UInt8] = []
            var blobIDs = Set<String>()
            var count: Int64 = 0
            let marker = Array(#""$blob":""#.utf8)
            try read { db in
                try Self.forEachStoredEvent(db, session: session) { event in
                    if count == TimelinePage.firstScreen { try page.raw(TimelinePage.script(script)) }
                    try page.eventLine(event.body)
                    hashes.append(contentsOf: event.leaf)
                    hashes.append(contentsOf: event.chain)
                    count += 1
                    if event.body.firstRange(of: marker) != nil { Self.collectBlobs(in: Array(event.body), into: &blobIDs) }
                }
            }
            if count < TimelinePage.firstScreen { try page.raw(TimelinePage.script(script)) }
            try page.raw(TimelinePage.hashesStart)
            try page.raw(Data(hashes).base64EncodedString())
            hashes = []
            try page.raw(TimelinePage.blobsStart + "{")
            var written = 0
            var missing: [String] = []
            for id in blobIDs.sorted() {
                guard let value = try? store.blob(id) else { missing.append(id); continue }
                try page.raw((written == 0 ? "" : ",") + "\"\(id)\":\"" + Data(value).base64EncodedString() + "\"")
                written += 1
            }
            try page.raw("}\n" + TimelinePage.diffsStart)
            try page.json((precomputeDiffs ? precomputedDiffs(checkpoints) : ["pairs": [], "truncated": false, "served": true]).canonicalString)
            try page.raw(TimelinePage.end)
            return (count, checkpoints.count, written, missing)
        }
    }

    /// Blob ids named anywhere in an event's data (`{"$blob": ID, "size": N}`).
    private static func collectBlobs(in body: [UInt8], into ids: inout Set<String>) {
        func walk(_ v: JSONValue) {
            if let id = v["$blob"]?.stringValue, id.count == 64 { ids.insert(id); return }
            if let o = v.objectValue { o.values.forEach(walk) } else if let a = v.arrayValue { a.forEach(walk) }
        }
        if let v = try? JSONValue.parse(body), let data = v["data"] { walk(data) }
    }

    /// Whether a host runs the session's sandbox now (from the catalog).
    private func sessionState(_ session: String) throws(HistoryError) -> String {
        if let claim = try sandboxClaims().first(where: { $0.session == session }) {
            return "running in sandbox \(claim.sandbox) on \(claim.host)"
        }
        return "no sandbox running"
    }

    /// The session it was forked from and the sessions forked from it, as the catalog's labels
    /// say (`forked_from`, `checkpoint`): context for the branch tree, which the page marks as
    /// not verified.
    private func relatedSessions(_ session: String, labels: [String: String]) throws(HistoryError) -> [JSONValue] {
        var related: [JSONValue] = []
        func entry(_ relation: String, _ s: SessionRecord, checkpoint: String?) -> JSONValue {
            ["relation": .string(relation), "id": .string(s.id), "checkpoint": checkpoint.map { .string($0) } ?? .null,
             "labels": .object(s.labels.mapValues { .string($0) }), "created": .double(s.createdAt.timeIntervalSince1970)]
        }
        let all = try sessions()
        if let parent = labels["forked_from"], let s = all.first(where: { $0.id == parent }) {
            related.append(entry("parent", s, checkpoint: labels["checkpoint"]))
        }
        for s in all where s.labels["forked_from"] == session {
            related.append(entry("fork", s, checkpoint: s.labels["checkpoint"]))
        }
        return related
    }
}
