import Foundation
import StasisStore

extension SessionStore {
    /// The Merkle tree head of a session's history at `size` events (default: all of it).
    public func treeHead(_ sessionIDOrPrefix: String, size: Int64? = nil) throws(HistoryError) -> (size: Int64, root: String) {
        let session = try resolveSession(sessionIDOrPrefix)
        let total = try historySize(session)
        let n = size ?? total
        guard n >= 0, n <= total else { throw .badArgument(field: "size", message: "the history of \(session) has \(total) events, not \(n)") }
        let root = try read { db in try TreeView(db, session: session, size: Int(n)).root }
        return (n, StoreKey.hex(root))
    }

    /// An inclusion proof for event `seq`: against the tree head signed by `checkpoint` (default:
    /// the latest checkpoint whose history contains the event), or the current, unsigned head
    /// when no checkpoint contains it.
    public func prove(_ sessionIDOrPrefix: String, seq: Int64, checkpoint: String? = nil) throws(HistoryError) -> InclusionProof {
        let session = try resolveSession(sessionIDOrPrefix)
        let total = try historySize(session)
        guard seq >= 0, seq < total else { throw .eventNotFound(session: session, seq: seq, size: total) }
        var record: CheckpointRecord?
        var checkpointID: String?
        var signature: [UInt8]?
        var signerKey: String?
        if let checkpoint {
            let c = try self.checkpoint(checkpoint)
            guard c.record.session == session else {
                throw .badArgument(field: "--checkpoint", message: "checkpoint \(c.id) belongs to session \(c.record.session), not \(session)")
            }
            guard seq < c.record.historySize else {
                throw .badArgument(field: "--checkpoint", message: "checkpoint \(c.id) covers events 0…\(c.record.historySize - 1); event \(seq) came later")
            }
            record = c.record; checkpointID = c.id; signature = c.signature; signerKey = c.signerKey
        } else if let c = try checkpoints(session).last(where: { $0.record.historySize > seq }) {
            record = c.record; checkpointID = c.id; signature = c.signature; signerKey = c.signerKey
        }
        let size = record?.historySize ?? total
        let (leaf, path, root) = try read { db -> ([UInt8], [[UInt8]], [UInt8]) in
            let view = try TreeView(db, session: session, size: Int(size))
            return (try view.leaf(Int(seq)), try view.proof(Int(seq)), try view.root)
        }
        // The store key from its file, not from the catalog; and a checkpoint only if it checks
        // out (hash, signature by a key this store trusts, row, references, images, blobs).
        let publicKey: String? = try signingKey().publicKeyHex
        var trusted = record == nil
        if let checkpointID { trusted = try checkpointDamage(checkpointID).isEmpty }
        var proof = InclusionProof(
            session: session, seq: seq, treeSize: size, leaf: StoreKey.hex(leaf), path: path.map { StoreKey.hex($0) },
            root: StoreKey.hex(root), checkpoint: record?.id, signature: signature.map { StoreKey.hex($0) },
            publicKey: publicKey, verified: false)
        var ok = proof.check() && trusted
        if let record {
            ok = ok && record.historyRoot == proof.root
            if let signature, let signer = signerKey ?? publicKey {
                ok = ok && StoreKey.verify(signature: signature, message: CheckpointRecord.signedMessage(id: record.id), publicKeyHex: signer)
                proof.publicKey = signer
            }
        }
        proof.verified = ok
        return proof
    }
}
