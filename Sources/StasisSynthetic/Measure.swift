// Measurements of images: zero pages, distinct pages, LZ4 sizes (what an ideal
// page-level dedup + LZ4 store would keep). Used by stasis-bench and the tests.

import CLZ4
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// LZ4 (LZ4_compress_default, i.e. `lz4 -1`'s block compressor) size measurements.
public enum LZ4Measure {
    /// The `lz4` CLI's default block size (4 MiB, independent blocks).
    public static let cliBlockSize = 4 << 20

    /// Compressed size of `src` as one LZ4 block; incompressible input counts as stored raw.
    public static func blockSize(_ src: UnsafeRawBufferPointer) -> Int {
        guard !src.isEmpty else { return 0 }
        let bound = Int(LZ4_compressBound(Int32(src.count)))
        return withUnsafeTemporaryAllocation(byteCount: bound, alignment: 16) { dst in
            let n = Int(LZ4_compress_default(src.baseAddress!.assumingMemoryBound(to: CChar.self),
                                             dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                                             Int32(src.count), Int32(bound)))
            return n > 0 ? min(n, src.count) : src.count
        }
    }

    /// Sum of the compressed sizes of `src` cut into blocks of `blockSize` bytes
    /// (4096: every page on its own; 4 MiB: like the `lz4 -1` CLI's frame body).
    public static func size(of src: UnsafeRawBufferPointer, blockSize bs: Int) -> Int {
        var total = 0
        var off = 0
        while off < src.count {
            let end = min(src.count, off + bs)
            total += blockSize(UnsafeRawBufferPointer(rebasing: src[off..<end]))
            off = end
        }
        return total
    }

    public static func size(of bytes: [UInt8], blockSize bs: Int) -> Int {
        bytes.withUnsafeBytes { size(of: $0, blockSize: bs) }
    }
}

/// Page-level analysis of an image.
public struct ImageAnalysis: Codable, Sendable, Equatable {
    public var bytes: Int64
    public var pages: Int
    public var zeroPages: Int
    public var zeroFraction: Double
    /// Distinct pages among the non-zero ones (exact: equal hashes are confirmed byte by byte).
    public var distinctNonZeroPages: Int
    /// Whole image through LZ4 in 4 MiB blocks (≈ `lz4 -1` file size, without frame headers).
    public var lz4WholeBytes: Int
    /// Distinct non-zero pages, each compressed on its own.
    public var lz4DistinctPerPageBytes: Int
    /// Distinct non-zero pages concatenated (first-seen order), in 4 MiB blocks.
    public var lz4DistinctStreamBytes: Int

    public var distinctNonZeroMiB: Double { Double(distinctNonZeroPages * SyntheticLayout.pageSize) / 1_048_576 }

    /// Analyzes an image in memory. Pages listed in `exclude` (e.g. the distinct pages of
    /// a previous image, by content) are not counted as distinct.
    public static func analyze(_ image: UnsafeRawBufferPointer) -> ImageAnalysis {
        var dedup = PageDeduper()
        return analyze(image, deduper: &dedup)
    }

    public static func analyze(_ image: [UInt8]) -> ImageAnalysis {
        image.withUnsafeBytes { analyze($0) }
    }

    /// Analyzes `image`, treating pages already known to `deduper` as not new, and
    /// remembering the new ones (so a second call measures what a next image adds).
    public static func analyze(_ image: UnsafeRawBufferPointer, deduper: inout PageDeduper) -> ImageAnalysis {
        let ps = SyntheticLayout.pageSize
        let pages = image.count / ps
        var zero = 0, distinct = 0, perPage = 0, stream = 0
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: LZ4Measure.cliBlockSize, alignment: ps)
        defer { block.deallocate() }
        var fill = 0
        for p in 0..<pages {
            let page = image.baseAddress! + p * ps
            if PageOps.isZero(page) { zero += 1; continue }
            guard deduper.insert(page) else { continue }
            distinct += 1
            perPage += LZ4Measure.blockSize(UnsafeRawBufferPointer(start: page, count: ps))
            memcpy(block.baseAddress! + fill, page, ps)
            fill += ps
            if fill == block.count {
                stream += LZ4Measure.blockSize(UnsafeRawBufferPointer(block))
                fill = 0
            }
        }
        if fill > 0 { stream += LZ4Measure.blockSize(UnsafeRawBufferPointer(rebasing: block[0..<fill])) }
        return ImageAnalysis(bytes: Int64(image.count), pages: pages, zeroPages: zero,
                             zeroFraction: pages == 0 ? 0 : Double(zero) / Double(pages),
                             distinctNonZeroPages: distinct,
                             lz4WholeBytes: LZ4Measure.size(of: image, blockSize: LZ4Measure.cliBlockSize),
                             lz4DistinctPerPageBytes: perPage, lz4DistinctStreamBytes: stream)
    }

    /// Analyzes the image file at `path` (mapped read-only).
    public static func analyze(path: String) throws -> ImageAnalysis {
        var dedup = PageDeduper()
        return try analyze(path: path, deduper: &dedup)
    }

    public static func analyze(path: String, deduper: inout PageDeduper) throws -> ImageAnalysis {
        try withMappedFile(path) { analyze($0, deduper: &deduper) }
    }
}

/// Exact set of 4 KiB pages: 64-bit hash, confirmed by comparing bytes. Keeps its own
/// copy of every page it has seen.
public struct PageDeduper: Sendable {
    private var index: [UInt64: Int32] = [:]
    private var overflow: [UInt64: [Int32]] = [:]
    private var store: [UInt8] = []

    public init() {}

    public var count: Int { store.count / SyntheticLayout.pageSize }

    /// Adds the page at `page`; returns false if an equal page was already present.
    public mutating func insert(_ page: UnsafeRawPointer) -> Bool {
        let ps = SyntheticLayout.pageSize
        let h = PageDeduper.hash(page)
        if let first = index[h] {
            let seen = store.withUnsafeBytes { st -> Bool in
                let same = { (slot: Int32) in memcmp(st.baseAddress! + Int(slot) * ps, page, ps) == 0 }
                return same(first) || (overflow[h]?.contains(where: same) ?? false)
            }
            if seen { return false }
            overflow[h, default: []].append(Int32(count))
        } else {
            index[h] = Int32(count)
        }
        store.append(contentsOf: UnsafeRawBufferPointer(start: page, count: ps))
        return true
    }

    /// Fast 64-bit page hash (four multiply-rotate lanes).
    static func hash(_ page: UnsafeRawPointer) -> UInt64 {
        let w = page.assumingMemoryBound(to: UInt64.self)
        var a: UInt64 = 0x9E37_79B9_7F4A_7C15, b: UInt64 = 0xC2B2_AE3D_27D4_EB4F
        var c: UInt64 = 0x1656_67B1_9E37_79F9, d: UInt64 = 0x85EB_CA77_C2B2_AE63
        var i = 0
        while i < SyntheticLayout.wordsPerPage {
            a = rotl((a ^ w[i]) &* 0x9FB2_1C65_1E98_DF25, 29)
            b = rotl((b ^ w[i + 1]) &* 0x9FB2_1C65_1E98_DF25, 31)
            c = rotl((c ^ w[i + 2]) &* 0x9FB2_1C65_1E98_DF25, 27)
            d = rotl((d ^ w[i + 3]) &* 0x9FB2_1C65_1E98_DF25, 33)
            i &+= 4
        }
        var h = a ^ rotl(b, 17) ^ rotl(c, 34) ^ rotl(d, 51)
        h = (h ^ (h >> 32)) &* 0xD6E8_FEB8_6659_FD93
        return h ^ (h >> 32)
    }
}

/// Runs `body` over the read-only mapping of the file at `path` (empty for an empty file).
public func withMappedFile<R>(_ path: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
    let file = try RawFile.openRead(path)
    let size = Int(try file.size())
    guard size > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
    guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, file.fd, 0), p != MAP_FAILED else {
        throw SyntheticImageError.io(operation: "mmap", path: path, errno: errno)
    }
    defer { munmap(p, size) }
    _ = madvise(p, size, MADV_SEQUENTIAL)
    return try body(UnsafeRawBufferPointer(start: p, count: size))
}

/// Allocated (data) extents of a file, from SEEK_DATA / SEEK_HOLE, as half-open byte ranges.
public func dataExtents(path: String) throws -> [Range<Int64>] {
    let file = try RawFile.openRead(path)
    let size = try file.size()
    let seekData: Int32 = 3, seekHole: Int32 = 4  // SEEK_DATA, SEEK_HOLE (Linux)
    var out: [Range<Int64>] = []
    var pos: Int64 = 0
    while pos < size {
        let d = lseek(file.fd, off_t(pos), seekData)
        if d < 0 {
            if errno == ENXIO { break }  // no data after pos
            throw SyntheticImageError.io(operation: "lseek(SEEK_DATA)", path: path, errno: errno)
        }
        let h = lseek(file.fd, d, seekHole)
        if h < 0 { throw SyntheticImageError.io(operation: "lseek(SEEK_HOLE)", path: path, errno: errno) }
        out.append(Int64(d)..<Int64(h))
        pos = Int64(h)
    }
    return out
}
