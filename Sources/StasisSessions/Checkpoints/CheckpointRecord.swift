import Crypto
import Foundation
import StasisJSON
import StasisStore

/// A checkpoint: the state of a sandbox at one moment — its images (guest memory, disks), its
/// blobs (device state, launch config, kernel, initrd) — bound to the history position it was taken
/// at. Its id is the SHA-256 of the stored JSON of this record (Formats/checkpoint.md), and the
/// store key signs `"stasis-checkpoint-v1\n" + id`, which covers the history tree head too.
/// Version 1 records are the version-1 canonical JSON with `created` an integer; version 2
/// records (written from now on) are RFC 8785 JSON with `created` a decimal string, since
/// nanoseconds exceed what a JCS number holds exactly.
public struct CheckpointRecord: Sendable, Equatable {
    public static let version: Int64 = 2
    public static let readableVersions: ClosedRange<Int64> = 1...2

    /// 1 or 2: kept so that re-encoding a read record gives its stored bytes.
    public var formatVersion: Int64 = CheckpointRecord.version

    public var session: String
    public var parent: String?
    /// Nanoseconds since 1970.
    public var createdAt: Int64
    /// Events in the history when the checkpoint was taken, and the tree head and chain hash there.
    public var historySize: Int64
    public var historyRoot: String
    public var historyChain: String
    /// Name → image id ("memory", "disk:root", …) and name → blob id ("state", "config", …).
    public var images: [String: String]
    public var blobs: [String: String]
    public var labels: [String: String]
    /// Facts measured when it was taken (downtime, accelerator, …).
    public var meta: [String: JSONValue]

    public var json: JSONValue {
        .object([
            "version": .int(formatVersion),
            "session": .string(session),
            "parent": parent.map { .string($0) } ?? .null,
            "created": formatVersion == 1 ? .int(createdAt) : .string(String(createdAt)),
            "history": .object(["size": .int(historySize), "root": .string(historyRoot), "chain": .string(historyChain)]),
            "images": .object(images.mapValues { .string($0) }),
            "blobs": .object(blobs.mapValues { .string($0) }),
            "labels": .object(labels.mapValues { .string($0) }),
            "meta": .object(meta),
        ])
    }

    /// The stored bytes. Throws for a version-2 record whose `meta` holds a value JCS cannot
    /// write (an integer beyond ±2^53), naming it.
    public func encoded() throws(JSONValue.JCSError) -> [UInt8] {
        formatVersion == 1 ? json.canonicalBytes : try json.jcsBytes()
    }

    /// The stored bytes of a record that `encoded()` accepted (every record read from a store
    /// is), or empty — which matches no stored record, so a comparison fails rather than passes.
    public var canonicalBytes: [UInt8] { (try? encoded()) ?? [] }
    public var id: String { StoreKey.hex(SHA256.hash(data: canonicalBytes)) }

    public static func signedMessage(id: String) -> [UInt8] { Array("stasis-checkpoint-v1\n\(id)".utf8) }

    /// Decodes a stored record; `bytes` must be canonical (re-encoding gives the same bytes).
    public static func decode(_ bytes: [UInt8]) -> CheckpointRecord? {
        guard let v = try? JSONValue.parse(bytes), let o = v.objectValue,
              let version = o["version"]?.intValue, readableVersions.contains(version),
              let session = o["session"]?.stringValue,
              let created = version == 1 ? o["created"]?.intValue : o["created"]?.stringValue.flatMap({ Int64($0) }),
              let history = o["history"]?.objectValue, let size = history["size"]?.intValue,
              let root = history["root"]?.stringValue, let chain = history["chain"]?.stringValue,
              let images = o["images"]?.objectValue?.compactMapValues(\.stringValue),
              let blobs = o["blobs"]?.objectValue?.compactMapValues(\.stringValue),
              let labels = o["labels"]?.objectValue?.compactMapValues(\.stringValue),
              let meta = o["meta"]?.objectValue else { return nil }
        let parent = o["parent"]?.stringValue
        var record = CheckpointRecord(session: session, parent: parent, createdAt: created, historySize: size,
                                      historyRoot: root, historyChain: chain, images: images, blobs: blobs,
                                      labels: labels, meta: meta)
        record.formatVersion = version
        return record.canonicalBytes == bytes ? record : nil
    }

    /// Names of images and blobs: a letter or digit, then letters, digits, `:._-`, 64 at most.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 64,
              CharacterSet.lowercaseLetters.union(.decimalDigits).contains(first), first.isASCII else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.lowercaseLetters.contains($0) || CharacterSet.decimalDigits.contains($0) || ":._-".unicodeScalars.contains($0)) }
    }
}

/// A committed checkpoint: its record, id and signature.
public struct Checkpoint: Sendable {
    public var id: String
    public var record: CheckpointRecord
    public var signature: [UInt8]
    /// The public key that signed it, when not this store's (an imported checkpoint).
    public var signerKey: String? = nil
    /// For a checkpoint just created: bytes each captured image read from its file (an
    /// incremental capture reads only its diff's ranges). Empty when loaded from the catalog.
    public var imageReadBytes: [String: Int64] = [:]
    public var createdAt: Date { Date(timeIntervalSince1970: Double(record.createdAt) / 1e9) }
}
