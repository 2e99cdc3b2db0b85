import Crypto
import Foundation

/// Version 1 encoding:
///
///     "STASIMGM" u16 version u16 flags(0) u32 chunkSize u64 imageSize u32 runCount u32 reserved(0)
///     runCount × run:  u32 header (bit 31 = data, bits 0–30 = chunk count) [+ count × 32-byte ids]
///
/// Runs alternate freely; their counts add up to ceil(imageSize / chunkSize).
extension ImageManifest {
    public static let formatVersion: UInt16 = 1
    static let magic: StaticString = "STASIMGM"
    static let headerSize = 32
    /// Largest image this version captures or reads: 1 TiB.
    public static let maxImageSize: Int64 = 1 << 40
    private static let dataBit: UInt32 = 1 << 31

    public func encoded() -> [UInt8] {
        var runs: [(data: Bool, start: Int, count: Int)] = []
        for (i, c) in chunks.enumerated() {
            let isData = c != nil
            if let last = runs.last, last.data == isData, last.count < Int(Self.dataBit - 1) {
                runs[runs.count - 1].count += 1
            } else {
                runs.append((isData, i, 1))
            }
        }
        var w = LittleEndianWriter(capacity: Self.headerSize + runs.count * 4 + dataChunkCount * 32)
        w.ascii(Self.magic)
        w.u16(Self.formatVersion)
        w.u16(0)
        w.u32(UInt32(chunkSize))
        w.u64(UInt64(imageSize))
        w.u32(UInt32(runs.count))
        w.u32(0)
        for run in runs {
            w.u32(UInt32(run.count) | (run.data ? Self.dataBit : 0))
            if run.data {
                for i in run.start..<run.start + run.count { w.chunkID(chunks[i]!) }
            }
        }
        return w.bytes
    }

    /// The image id: SHA-256 of the encoding, as 64 hex digits.
    public static func id(ofEncoded bytes: [UInt8]) -> String {
        ChunkHasher.id(of: bytes).hex
    }

    /// Decodes and checks a manifest. `id` is only used in error messages.
    public static func decode(_ bytes: [UInt8], id: String) throws(StoreError) -> ImageManifest {
        let result: Result<ImageManifest, StoreError> = bytes.withUnsafeBytes { raw in
            var r = LittleEndianReader(raw)
            do throws(LittleEndianReader.Truncated) {
                guard try r.expect(magic, "magic") else {
                    return .failure(.corruptManifest(id: id, reason: "it does not start with the manifest magic"))
                }
                let version = try r.u16("version")
                guard version == formatVersion else {
                    return .failure(.corruptManifest(id: id, reason: "format version \(version) is not one this stasis reads (\(formatVersion)); upgrade stasis"))
                }
                let flags = try r.u16("flags")
                let chunkSize = Int(try r.u32("chunk size"))
                let imageSize = Int64(bitPattern: try r.u64("image size"))
                let runCount = Int(try r.u32("run count"))
                let reserved = try r.u32("reserved")
                // No flag means anything in version 1: a set bit is a newer writer's, a non-zero
                // reserved field damage (Formats/store-layout.md, section 4).
                guard flags == 0 else {
                    return .failure(.corruptManifest(id: id, reason: "it has flags \(flags), which this stasis does not know; upgrade stasis"))
                }
                guard reserved == 0 else { return .failure(.corruptManifest(id: id, reason: "its reserved field is not zero")) }
                guard chunkSize >= 512, chunkSize <= 64 << 20, chunkSize & (chunkSize - 1) == 0, imageSize >= 0 else {
                    return .failure(.corruptManifest(id: id, reason: "chunk size \(chunkSize) or image size \(imageSize) is impossible"))
                }
                let total = chunkCount(imageSize: imageSize, chunkSize: chunkSize)
                // The in-memory form is one slot per chunk: refuse sizes no guest has (a hostile
                // manifest could otherwise ask for terabytes of slots with a few zero runs).
                guard imageSize <= maxImageSize else {
                    return .failure(.corruptManifest(id: id, reason: "image size \(imageSize) exceeds the \(maxImageSize >> 40) TiB this version supports"))
                }
                var chunks: [ChunkID?] = []
                chunks.reserveCapacity(min(total, raw.count / 4 + 1))
                for _ in 0..<runCount {
                    let header = try r.u32("run header")
                    let count = Int(header & ~dataBit)
                    guard count > 0, chunks.count + count <= total else {
                        return .failure(.corruptManifest(id: id, reason: "runs cover more than the image's \(total) chunks"))
                    }
                    if header & dataBit != 0 {
                        for _ in 0..<count { chunks.append(try r.chunkID("chunk id")) }
                    } else {
                        chunks.append(contentsOf: repeatElement(nil, count: count))
                    }
                }
                guard chunks.count == total, r.remaining == 0 else {
                    return .failure(.corruptManifest(id: id, reason: "runs cover \(chunks.count) of \(total) chunks, with \(r.remaining) bytes left over"))
                }
                return .success(ImageManifest(imageSize: imageSize, chunkSize: chunkSize, chunks: chunks))
            } catch {
                return .failure(.corruptManifest(id: id, reason: "truncated while reading the \(error.field)"))
            }
        }
        return try result.get()
    }
}
