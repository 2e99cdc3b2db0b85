import Foundation
import GRDB
import StasisStore

/// The outcome of `history verify`.
public struct HistoryVerification: Sendable, Codable {
    public var session: String
    public var events: Int64
    public var checkpointsChecked: Int
    /// The first position where the history is not what was written, if any.
    public var firstBadSeq: Int64?
    public var problems: [String]
    public var ok: Bool { problems.isEmpty }
}

extension SessionStore {
    /// Re-reads a session's whole history and checks, event by event: positions are consecutive,
    /// each stored body is a canonical event at its own position, its leaf hash matches it, and the
    /// chain hash links it to the event before. Then every checkpoint's tree head is recomputed
    /// from the leaves and its signature checked. Any edited, dropped, reordered or inserted event
    /// is reported with the first bad position.
    public func verifyHistory(_ sessionIDOrPrefix: String) throws(HistoryError) -> HistoryVerification {
        let session = try resolveSession(sessionIDOrPrefix)
        let checkpoints = try self.checkpoints(session)
        let publicKey = try HistoryError.wrap { () throws(StoreError) in try store.catalog.meta("public_key") }
        return try read { db -> HistoryVerification in
            var result = HistoryVerification(session: session, events: 0, checkpointsChecked: 0, firstBadSeq: nil, problems: [])
            func fail(_ seq: Int64?, _ message: String) {
                if result.firstBadSeq == nil, let seq { result.firstBadSeq = seq }
                result.problems.append(message)
            }
            var pending = checkpoints.sorted { $0.record.historySize < $1.record.historySize }[...]
            var tiles: [MerkleTree.Hash] = []
            var tileLeaves: [MerkleTree.Hash] = []
            var chain = HistoryHashing.genesis
            var expected: Int64 = 0
            var broken = false

            func checkCheckpoints(atSize size: Int64) throws {
                while let c = pending.first, c.record.historySize <= size {
                    pending.removeFirst()
                    result.checkpointsChecked += 1
                    guard c.record.historySize == size, !broken else { continue }
                    let base = tiles.count * HistoryHashing.tileSize
                    let root = MerkleTree.root(of: 0..<Int(size), leaf: { tileLeaves[$0 - base] }, subtree: { range in
                        let t = HistoryHashing.tileSize
                        guard range.count >= t, range.count & (range.count - 1) == 0, range.lowerBound % t == 0, range.upperBound <= base else { return nil }
                        return MerkleTree.root(tiles[(range.lowerBound / t)..<(range.upperBound / t)])
                    })
                    if StoreKey.hex(root) != c.record.historyRoot || StoreKey.hex(chain) != c.record.historyChain {
                        fail(nil, "the first \(size) events do not match the tree head signed by checkpoint \(c.id): events before position \(size) were rewritten")
                    }
                }
            }

            try checkCheckpoints(atSize: 0)
            let cursor = try Row.fetchCursor(db, sql: "SELECT seq, time_ns, kind, body, leaf, chain FROM events WHERE session_id = ? ORDER BY seq", arguments: [session])
            while let row = try cursor.next() {
                let seq: Int64 = row[0]
                result.events += 1
                if broken { continue }
                if seq != expected {
                    fail(expected, "event \(expected) is missing: the next stored event is \(seq) (events were dropped)")
                    broken = true; continue
                }
                let body = [UInt8](row.dataNoCopy(atIndex: 3) ?? Data())
                guard let event = HistoryEvent.decode(body: body), event.body == body else {
                    fail(seq, "event \(seq) was edited: its body is not a canonical event")
                    broken = true; continue
                }
                if event.seq != seq {
                    fail(seq, "event \(seq) holds the body of event \(event.seq) (events were reordered, inserted or moved)")
                    broken = true; continue
                }
                if event.time != (row[1] as Int64) || event.kind.rawValue != (row[2] as String) {
                    fail(seq, "event \(seq) was edited: its time or kind column differs from its body")
                    broken = true; continue
                }
                let leaf = MerkleTree.leafHash(body)
                if leaf != [UInt8](row.dataNoCopy(atIndex: 4) ?? Data()) {
                    fail(seq, "event \(seq) was edited: its body does not match its leaf hash")
                    broken = true; continue
                }
                chain = HistoryHashing.chain(previous: chain, leaf: leaf)
                if chain != [UInt8](row.dataNoCopy(atIndex: 5) ?? Data()) {
                    fail(seq, "event \(seq) does not follow event \(seq - 1): the chain hash differs (events were inserted, dropped or reordered before it)")
                    broken = true; continue
                }
                tileLeaves.append(leaf)
                if tileLeaves.count == HistoryHashing.tileSize {
                    tiles.append(MerkleTree.root(tileLeaves[...]))
                    tileLeaves.removeAll(keepingCapacity: true)
                }
                expected += 1
                try checkCheckpoints(atSize: expected)
            }
            if !broken {
                let stored = try Data.fetchAll(db, sql: "SELECT hash FROM merkle_tiles WHERE session_id = ? ORDER BY tile", arguments: [session]).map { [UInt8]($0) }
                if stored != tiles {
                    fail(nil, "the stored Merkle tiles of session \(session) do not match its events (derived data; the events themselves check out)")
                }
            }
            if !broken, let head = try Row.fetchOne(db, sql: "SELECT head_size, head_chain, head_signature FROM sessions WHERE id = ?", arguments: [session]) {
                let size: Int64 = head["head_size"]
                let headChain = (head["head_chain"] as Data?).map { [UInt8]($0) } ?? HistoryHashing.genesis
                let signature = (head["head_signature"] as Data?).map { [UInt8]($0) } ?? []
                if size > expected {
                    fail(expected, "events \(expected)…\(size - 1) are missing: the history was truncated (it had \(size) events)")
                } else if size < expected {
                    fail(size, "events \(size)…\(expected - 1) were added outside stasis (the signed history head ends at \(size))")
                } else if headChain != chain {
                    fail(nil, "the last event's chain hash differs from the signed history head")
                } else if size > 0, !(publicKey.map { StoreKey.verify(signature: signature, message: Self.headMessage(session: session, size: size, chain: chain), publicKeyHex: $0) } ?? false) {
                    fail(nil, "the history head of session \(session) is not signed by this store's key")
                }
            }
            for c in pending {
                fail(nil, "checkpoint \(c.id) covers \(c.record.historySize) events but the history has \(expected)")
            }
            for c in checkpoints {
                let ok = publicKey.map { StoreKey.verify(signature: c.signature, message: CheckpointRecord.signedMessage(id: c.id), publicKeyHex: $0) } ?? false
                if !ok { fail(nil, "checkpoint \(c.id) is not signed by this store's key") }
            }
            return result
        }
    }
}
