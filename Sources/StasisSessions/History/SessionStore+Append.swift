import Foundation
import GRDB
import StasisJSON
import StasisStore

extension SessionStore {
    /// Strings longer than this are kept as blobs in the chunk store; the event holds
    /// `{"$blob": id, "size": n}` (the id is the SHA-256 of the value, so the hash chain covers it).
    public static let inlineLimit = 4096

    /// Appends events to a session's history in one transaction: all get consecutive positions
    /// and are durable when this returns, or none is written. Returns their positions.
    @discardableResult
    public func append(_ sessionIDOrPrefix: String, _ inputs: [EventInput]) throws(HistoryError) -> Range<Int64> {
        let session = try resolveSession(sessionIDOrPrefix)
        return try append(resolved: session, inputs)
    }

    func append(resolved session: String, _ inputs: [EventInput]) throws(HistoryError) -> Range<Int64> {
        let prepared = try prepare(inputs)
        let key = try signingKey()
        return try write { db in try Self.insertEvents(db, session: session, prepared, key: key) }
    }

    /// An event ready to be written: large values already moved to the blob store.
    struct PreparedEvent {
        var kind: EventKind
        var time: Int64
        var data: [String: JSONValue]
    }

    /// Moves large string values to the blob store (their own transactions; a blob that ends up
    /// unused is harmless) and fills in missing times.
    func prepare(_ inputs: [EventInput]) throws(HistoryError) -> [PreparedEvent] {
        var prepared: [PreparedEvent] = []
        prepared.reserveCapacity(inputs.count)
        let now = Self.nowNanoseconds()
        for input in inputs {
            var data = input.data
            for (key, value) in data {
                if let s = value.stringValue, s.utf8.count > Self.inlineLimit {
                    let blob = try HistoryError.wrap { () throws(StoreError) in try store.putBlob(Array(s.utf8)) }
                    data[key] = ["$blob": .string(blob.id), "size": .int(blob.size)]
                }
            }
            prepared.append(PreparedEvent(kind: input.kind, time: input.time ?? now, data: data))
        }
        return prepared
    }

    /// Writes events at the end of a session's history, inside the caller's transaction.
    static func insertEvents(_ db: Database, session: String, _ prepared: [PreparedEvent], key: StoreKey) throws -> Range<Int64> {
        var (next, chain) = try lastPosition(db, session)
        let first = next
        var tileLeaves = try openTileLeaves(db, session, size: next)
        let insert = try db.cachedStatement(sql: "INSERT INTO events(session_id, seq, time_ns, kind, body, leaf, chain) VALUES (?, ?, ?, ?, ?, ?, ?)")
        let insertTile = try db.cachedStatement(sql: "INSERT INTO merkle_tiles(session_id, tile, hash) VALUES (?, ?, ?)")
        for p in prepared {
            let event = HistoryEvent(seq: next, time: p.time, kind: p.kind, data: p.data)
            let body = event.body
            let leaf = MerkleTree.leafHash(body)
            chain = HistoryHashing.chain(previous: chain, leaf: leaf)
            try insert.execute(arguments: [session, next, p.time, p.kind.rawValue, Data(body), Data(leaf), Data(chain)])
            tileLeaves.append(leaf)
            if tileLeaves.count == HistoryHashing.tileSize {
                let tile = next / Int64(HistoryHashing.tileSize)
                try insertTile.execute(arguments: [session, tile, Data(MerkleTree.root(tileLeaves[...]))])
                tileLeaves.removeAll(keepingCapacity: true)
            }
            next += 1
        }
        let signature = try key.sign(headMessage(session: session, size: next, chain: chain))
        try db.execute(sql: "UPDATE sessions SET head_size = ?, head_chain = ?, head_signature = ?, head_signer = NULL WHERE id = ?",
                       arguments: [next, Data(chain), Data(signature), session])
        return first..<next
    }

    /// What the store key signs after every append: the session, the history's size and the
    /// chain hash of its last event.
    static func headMessage(session: String, size: Int64, chain: [UInt8]) -> [UInt8] {
        Array("stasis-history-head-v1\n\(session)\n\(size)\n\(StoreKey.hex(chain))".utf8)
    }

    /// The next position and the chain hash before it.
    static func lastPosition(_ db: Database, _ session: String) throws -> (Int64, [UInt8]) {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM sessions WHERE id = ?", arguments: [session]) == true else {
            throw HistoryError.sessionNotFound(session)
        }
        if let row = try Row.fetchOne(db, sql: "SELECT seq, chain FROM events WHERE session_id = ? ORDER BY seq DESC LIMIT 1", arguments: [session]) {
            let chain: Data = row["chain"]
            return ((row["seq"] as Int64) + 1, [UInt8](chain))
        }
        return (0, HistoryHashing.genesis)
    }

    /// Leaves of the tile that is not complete yet (so that the batch can complete it).
    static func openTileLeaves(_ db: Database, _ session: String, size: Int64) throws -> [MerkleTree.Hash] {
        let start = size - size % Int64(HistoryHashing.tileSize)
        guard start < size else { return [] }
        return try Data.fetchAll(db, sql: "SELECT leaf FROM events WHERE session_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
                                 arguments: [session, start, size]).map { [UInt8]($0) }
    }

    public func historySize(_ session: String) throws(HistoryError) -> Int64 {
        try read { db in
            try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq) + 1, 0) FROM events WHERE session_id = ?", arguments: [session]) ?? 0
        }
    }
}
