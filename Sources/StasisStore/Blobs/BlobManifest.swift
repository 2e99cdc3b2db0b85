/// The recipe of a byte stream cut by FastCDC: its chunks in order, each with its length.
///
///     "STASBLOB" u16 version u16 flags(0) u64 size u32 count u32 reserved(0)
///     count × (u32 length, id[32])
///
/// A blob's id is the SHA-256 of its whole content (Formats/blob-manifest.md).
public struct BlobManifest: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var length: Int
        public var id: ChunkID
    }
    public var size: Int64
    public var entries: [Entry]

    public static let formatVersion: UInt16 = 1
    static let magic: StaticString = "STASBLOB"
    /// Bytes before the entries (magic, version, flags, size, count) and per entry (length, id).
    static let headerSize = 28
    static let entrySize = 36

    public func encoded() -> [UInt8] {
        var w = LittleEndianWriter(capacity: Self.headerSize + entries.count * Self.entrySize)
        w.ascii(Self.magic)
        w.u16(Self.formatVersion)
        w.u16(0)
        w.u64(UInt64(size))
        w.u32(UInt32(entries.count))
        w.u32(0)
        for e in entries {
            w.u32(UInt32(e.length))
            w.chunkID(e.id)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8], id: String) throws(StoreError) -> BlobManifest {
        let result: Result<BlobManifest, StoreError> = bytes.withUnsafeBytes { raw in
            var r = LittleEndianReader(raw)
            do throws(LittleEndianReader.Truncated) {
                guard try r.expect(magic, "magic") else {
                    return .failure(.corruptManifest(id: id, reason: "it does not start with the blob manifest magic"))
                }
                let version = try r.u16("version")
                guard version == formatVersion else {
                    return .failure(.corruptManifest(id: id, reason: "blob manifest version \(version) is not one this stasis reads; upgrade stasis"))
                }
                let flags = try r.u16("flags")
                let size = Int64(bitPattern: try r.u64("size"))
                let count = Int(try r.u32("count"))
                let reserved = try r.u32("reserved")
                // No flag means anything in version 1: a set bit is a newer writer's, a non-zero
                // reserved field damage (Formats/store-layout.md, section 4).
                guard flags == 0 else {
                    return .failure(.corruptManifest(id: id, reason: "it has flags \(flags), which this stasis does not know; upgrade stasis"))
                }
                guard reserved == 0 else { return .failure(.corruptManifest(id: id, reason: "its reserved field is not zero")) }
                guard count * Self.entrySize == r.remaining else {
                    return .failure(.corruptManifest(id: id, reason: "\(count) entries do not match its length"))
                }
                var entries: [Entry] = []
                entries.reserveCapacity(count)
                var total: Int64 = 0
                for _ in 0..<count {
                    let length = Int(try r.u32("length"))
                    guard length > 0 && length <= PackFormat.maxChunkLength else {
                        return .failure(.corruptManifest(id: id, reason: "a chunk length of \(length) is impossible"))
                    }
                    entries.append(Entry(length: length, id: try r.chunkID("chunk id")))
                    total += Int64(length)
                }
                guard total == size else {
                    return .failure(.corruptManifest(id: id, reason: "chunk lengths add up to \(total), not the size \(size)"))
                }
                return .success(BlobManifest(size: size, entries: entries))
            } catch {
                return .failure(.corruptManifest(id: id, reason: "truncated while reading the \(error.field)"))
            }
        }
        return try result.get()
    }
}
