import Crypto
import Foundation
import StasisCatalog
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
        // Every checkpoint row of the session is checked on its own (record, signature, catalog
        // row, references, images, blobs); a damaged one is reported, never thrown, so that
        // damage always ends in the verifier's report (exit 2), not in a failure (exit 1).
        let ids = try read { db in
            try db.query("SELECT id FROM checkpoints WHERE session_id = ? ORDER BY history_size, created_at, id", session).map { $0.shown("id") }
        }
        var checkpoints: [Checkpoint] = []
        var checkpointProblems: [String] = []
        for id in ids {
            let (checkpoint, damage) = try inspectCheckpoint(id)
            if let checkpoint { checkpoints.append(checkpoint) }
            checkpointProblems += damage.map { "checkpoint \(id): \($0.description)" }
        }
        let publicKey: String? = try signingKey().publicKeyHex
        return try read { db -> HistoryVerification in
            var result = HistoryVerification(session: session, events: 0, checkpointsChecked: 0, firstBadSeq: nil, problems: [])
            func fail(_ seq: Int64?, _ message: String) {
                if result.firstBadSeq == nil, let seq { result.firstBadSeq = seq }
                result.problems.append(message)
            }
            result.problems += checkpointProblems
            var pending = checkpoints.sorted { $0.record.historySize < $1.record.historySize }[...]
            var tiles: [MerkleTree.Hash] = []
            // Leaf hashes of the tile being filled, packed 32 bytes each.
            var packed: [UInt8] = []
            packed.reserveCapacity(HistoryHashing.tileSize * 32)
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: HistoryHashing.tileSize * 32, alignment: 16)
            defer { scratch.deallocate() }
            var tileLeaves: [MerkleTree.Hash] { stride(from: 0, to: packed.count, by: 32).map { Array(packed[$0..<$0 + 32]) } }
            // The leaf hash just computed, the chain up to the event before, the chain computed
            // for this one: three 32-byte digests the loop writes in place (libcrypto, no
            // allocation per event).
            let digests = UnsafeMutableRawBufferPointer.allocate(byteCount: 96, alignment: 16)
            defer { digests.deallocate() }
            let leafOut = UnsafeMutableRawBufferPointer(rebasing: digests[0..<32])
            let chainNow = UnsafeMutableRawBufferPointer(rebasing: digests[32..<64])
            let chainNext = UnsafeMutableRawBufferPointer(rebasing: digests[64..<96])
            HistoryHashing.genesis.withUnsafeBytes { chainNow.copyMemory(from: $0) }
            var chain: [UInt8] { Array(chainNow) }
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
            // The hot loop checks the body's position, time and kind from its end
            // (EventBodyHeader), on columns that SQLite hands over without copies.
            try Self.forEachStoredEvent(db, session: session) { event in
                let seq = event.seq
                result.events += 1
                if broken { return }
                if seq != expected {
                    fail(expected, "event \(expected) is missing: the next stored event is \(seq) (events were dropped)")
                    broken = true; return
                }
                let body = event.body, storedLeaf = event.leaf, storedChain = event.chain
                guard let header = EventBodyHeader.parse(body) else {
                    fail(seq, "event \(seq) was edited: its body is not a canonical event")
                    broken = true; return
                }
                if header.seq != seq {
                    fail(seq, "event \(seq) holds the body of event \(header.seq) (events were reordered, inserted or moved)")
                    broken = true; return
                }
                let kind = event.kind
                let kindMatches = kind.count == header.kind.count && memcmp(kind.baseAddress!, body.baseAddress! + header.kind.lowerBound, kind.count) == 0
                if header.time != event.time || !kindMatches {
                    fail(seq, "event \(seq) was edited: its time or kind column differs from its body")
                    broken = true; return
                }
                MerkleTree.leafHash(body, into: leafOut)
                let leafMatches = storedLeaf.count == 32 && memcmp(leafOut.baseAddress!, storedLeaf.baseAddress!, 32) == 0
                if !leafMatches {
                    fail(seq, "event \(seq) was edited: its body does not match its leaf hash")
                    broken = true; return
                }
                HistoryHashing.chain(previous: UnsafeRawBufferPointer(chainNow), leaf: storedLeaf, into: chainNext)
                let chainMatches = storedChain.count == 32 && memcmp(chainNext.baseAddress!, storedChain.baseAddress!, 32) == 0
                chainNow.copyMemory(from: UnsafeRawBufferPointer(chainNext))
                if !chainMatches {
                    fail(seq, "event \(seq) does not follow event \(seq - 1): the chain hash differs (events were inserted, dropped or reordered before it)")
                    broken = true; return
                }
                packed.append(contentsOf: leafOut)
                if packed.count == HistoryHashing.tileSize * 32 {
                    tiles.append(packed.withUnsafeBytes { MerkleTree.perfectRoot(packed: $0, scratch: scratch) })
                    packed.removeAll(keepingCapacity: true)
                }
                expected += 1
                if let next = pending.first, next.record.historySize <= expected { try checkCheckpoints(atSize: expected) }
            }
            if !broken {
                let stored = try db.query("SELECT hash FROM merkle_tiles WHERE session_id = ? ORDER BY tile", session)
                    .map { $0.optionalBlob("hash") ?? [] }
                if stored != tiles {
                    fail(nil, "the stored Merkle tiles of session \(session) do not match its events (derived data; the events themselves check out)")
                }
            }
            if !broken, let head = try db.queryOne("SELECT head_size, head_chain, head_signature, head_signer FROM sessions WHERE id = ?", session) {
                let foreignSigner: String? = head.isNull("head_signer") ? nil : head.shown("head_signer")
                let signer = foreignSigner ?? publicKey
                if let foreign = foreignSigner, let publicKey,
                   try !Self.isTrustedSigner(db, session: session, signer: foreign, storeKey: publicKey) {
                    fail(nil, "the history head of session \(session) claims to be signed by key \(foreign), which this store never accepted for it (only `bundle import` admits another key)")
                }
                // Read leniently: a column of another type is damage, not a crash.
                let size = head.optionalInt("head_size") ?? -1
                let headChain = head.optionalBlob("head_chain") ?? HistoryHashing.genesis
                let signature = head.optionalBlob("head_signature") ?? []
                if size < 0 {
                    fail(nil, "the history head of session \(session) is damaged: head_size is \(head.shown("head_size"))")
                } else if size > expected {
                    fail(expected, "events \(expected)…\(size - 1) are missing: the history was truncated (it had \(size) events)")
                } else if size < expected {
                    fail(size, "events \(size)…\(expected - 1) were added outside stasis (the signed history head ends at \(size))")
                } else if headChain != chain {
                    fail(nil, "the last event's chain hash differs from the signed history head")
                } else if size > 0, !(signer.map { StoreKey.verify(signature: signature, message: Self.headMessage(session: session, size: size, chain: chain), publicKeyHex: $0) } ?? false) {
                    fail(nil, "the history head of session \(session) is not signed by this store's key")
                }
            }
            for c in pending {
                fail(nil, "checkpoint \(c.id) covers \(c.record.historySize) events but the history has \(expected)")
            }
            return result
        }
    }
}
