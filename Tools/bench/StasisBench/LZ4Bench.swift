// stasis-bench lz4: LZ4_compress_default / LZ4_decompress_safe throughput on image chunks.

import ArgumentParser
import CLZ4
import Foundation
import StasisSynthetic

struct LZ4Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lz4",
        abstract: "LZ4 compress/decompress throughput (one thread) on 4 KiB and 64 KiB chunks of a synthetic image.",
        discussion: "Each chunk size is measured on all chunks and on the non-zero chunks only. GB/s are of uncompressed bytes."
    )

    @Option(help: "Size of the in-memory synthetic base image.") var size: String = "256M"
    @Option(help: "Image seed.") var seed: UInt64 = 1
    @Option(help: "Minimum seconds per measurement (whole passes over the image).") var seconds: Double = 1

    struct Row: Encodable {
        var chunk: Int
        var set: String
        var chunks: Int
        var bytes: Int
        var ratio: Double
        var compress_gbps: Double
        var decompress_gbps: Double
    }

    struct Report: Encodable {
        var imageBytes: Int
        var seed: UInt64
        var results: [Row]
    }

    func run() throws {
        let bytes = Int(try parseSize(size))
        guard bytes > 0, bytes % 65536 == 0 else { throw ValidationError("--size must be a multiple of 64 KiB") }
        let image = SyntheticImage.makeBase(size: bytes, seed: seed)
        var rows: [Row] = []
        try image.withUnsafeBytes { img in
            for chunk in [4096, 65536] {
                let all = Array(stride(from: 0, to: bytes, by: chunk))
                let nonZero = all.filter { off in
                    !UnsafeRawBufferPointer(rebasing: img[off..<(off + chunk)]).allSatisfy { $0 == 0 }
                }
                for (name, offsets) in [("all", all), ("non-zero", nonZero)] where !offsets.isEmpty {
                    rows.append(try measure(img, chunk: chunk, offsets: offsets, set: name))
                }
            }
        }
        try printJSONLine(Report(imageBytes: bytes, seed: seed, results: rows))
    }

    func measure(_ img: UnsafeRawBufferPointer, chunk: Int, offsets: [Int], set: String) throws -> Row {
        let bound = Int(LZ4_compressBound(Int32(chunk)))
        let dst = UnsafeMutableRawBufferPointer.allocate(byteCount: bound * offsets.count, alignment: 64)
        defer { dst.deallocate() }
        var sizes = [Int32](repeating: 0, count: offsets.count)
        let src = img.baseAddress!.assumingMemoryBound(to: CChar.self)
        let out = dst.baseAddress!.assumingMemoryBound(to: CChar.self)

        func compressPass() {
            for (i, off) in offsets.enumerated() {
                sizes[i] = LZ4_compress_default(src + off, out + i * bound, Int32(chunk), Int32(bound))
            }
        }
        let plain = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { plain.deallocate() }
        let plainPtr = plain.baseAddress!.assumingMemoryBound(to: CChar.self)
        var bad = 0
        func decompressPass() {
            for i in offsets.indices {
                let n = LZ4_decompress_safe(out + i * bound, plainPtr, sizes[i], Int32(chunk))
                if n != Int32(chunk) { bad += 1 }
            }
        }
        func timed(_ pass: () -> Void) -> Double {
            pass()  // warm-up
            var passes = 0
            let t0 = now()
            var t = t0
            repeat { pass(); passes += 1; t = now() } while t - t0 < seconds
            return Double(passes * offsets.count * chunk) / (t - t0)
        }
        let cRate = timed(compressPass)
        let dRate = timed(decompressPass)
        // Verify round trip once.
        for (i, off) in offsets.enumerated() {
            let n = LZ4_decompress_safe(out + i * bound, plainPtr, sizes[i], Int32(chunk))
            if n != Int32(chunk) || memcmp(plain.baseAddress!, img.baseAddress! + off, chunk) != 0 { bad += 1 }
        }
        guard bad == 0 else { throw ValidationError("LZ4 round trip failed on \(bad) chunks") }
        let stored = sizes.reduce(0) { $0 + min(Int($1), chunk) }
        return Row(chunk: chunk, set: set, chunks: offsets.count, bytes: offsets.count * chunk,
                   ratio: round3(Double(offsets.count * chunk) / Double(stored)),
                   compress_gbps: round3(cRate / 1e9), decompress_gbps: round3(dRate / 1e9))
    }
}
