// Deterministic synthetic VM-memory images ("base") and their successors ("next").
//
// Output is a pure function of (size, seed, poolSeed, mix) for base images and of
// (base bytes, fraction, seed, poolSeed, dirty mix) for next images. The file writers and
// the in-memory makers share the same chunked core, so they produce identical bytes.
//
// Zero pages: by default (`sparse: true`) the file writers truncate the output to its
// full size and skip all-zero pages, which therefore become holes; with `sparse: false`
// they are written as zeros. The bytes read back are the same either way. Diff files
// always hold every dirty page as data, including dirty pages that are all zeros, so
// a consumer can find the dirty pages with SEEK_DATA / SEEK_HOLE.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public enum SyntheticImage {
    public static let pageSize = SyntheticLayout.pageSize

    /// What a writer produced. For a base image the kind counts cover every page; for a
    /// next image they cover the rewritten (dirty) pages.
    public struct Stats: Codable, Sendable, Equatable {
        public var mode: String
        public var bytes: Int64
        public var pages: Int
        public var seed: UInt64
        public var poolSeed: UInt64
        public var poolPages: Int
        /// Whether all-zero pages of the image output were left as holes.
        public var sparse: Bool
        public var zeroPages: Int
        public var dupPages: Int
        public var compPages: Int
        public var randPages: Int
        /// next: pages rewritten (target fraction of the image); base: 0.
        public var dirtyPages: Int
        /// next: maximal runs of consecutive dirty pages; base: 0.
        public var dirtyRuns: Int
        /// next: dirty pages whose content actually differs from the base page.
        public var changedPages: Int?
        /// next: requested dirty fraction.
        public var fraction: Double?
        public var seconds: Double

        public func pages(of kind: PageKind) -> Int {
            switch kind {
            case .zero: return zeroPages
            case .dup: return dupPages
            case .comp: return compPages
            case .rand: return randPages
            }
        }
    }

    /// An in-memory next image.
    public struct NextImage: Sendable {
        public var image: [UInt8]
        /// Indices of the rewritten pages, ascending.
        public var dirtyPages: [Int]
        public var stats: Stats
    }

    // MARK: - Files

    /// Writes a base image of `size` bytes (a positive multiple of 4096) to `path`.
    @discardableResult
    public static func writeBase(to path: String, size: Int64, seed: UInt64,
                                 poolSeed: UInt64 = SyntheticLayout.defaultPoolSeed,
                                 mix: PageMix = .base, sparse: Bool = true) throws -> Stats {
        let start = ContinuousClock.now
        guard size > 0, size % Int64(pageSize) == 0, size / Int64(pageSize) <= Int64(Int32.max) else {
            throw SyntheticImageError.invalidSize(size)
        }
        let pages = Int(size / Int64(pageSize))
        let file = try RawFile.create(path)
        if sparse { try file.truncate(to: size) }
        var gen = BaseGenerator(seed: seed, poolSeed: poolSeed, mix: mix)
        let chunkPages = min(SyntheticLayout.chunkPages, pages)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkPages * pageSize, alignment: pageSize)
        defer { buf.deallocate() }
        var p0 = 0, chunk = 0
        while p0 < pages {
            let n = min(chunkPages, pages - p0)
            gen.fill(chunk: chunk, pages: n, into: buf.baseAddress!)
            try file.writePages(UnsafeRawBufferPointer(rebasing: buf[0..<(n * pageSize)]),
                                at: Int64(p0) * Int64(pageSize), sparse: sparse)
            p0 += n
            chunk += 1
        }
        return gen.stats(pages: pages, sparse: sparse, seconds: elapsed(since: start))
    }

    /// Writes the successor of the image at `base`: a copy with `fraction` of its pages
    /// rewritten in clustered runs. `out` nil writes no image; `diff` (optional) receives
    /// a sparse file of the image's size holding exactly the dirty pages.
    @discardableResult
    public static func writeNext(from base: String, to out: String?, diff: String?,
                                 fraction: Double = 0.05, seed: UInt64,
                                 poolSeed: UInt64 = SyntheticLayout.defaultPoolSeed,
                                 dirtyMix: PageMix = .dirty, sparse: Bool = true) throws -> Stats {
        let start = ContinuousClock.now
        guard fraction >= 0, fraction <= 1 else { throw SyntheticImageError.invalidFraction(fraction) }
        let input = try RawFile.openRead(base)
        let size = try input.size()
        guard size > 0, size % Int64(pageSize) == 0, size / Int64(pageSize) <= Int64(Int32.max) else {
            throw SyntheticImageError.invalidSize(size)
        }
        let pages = Int(size / Int64(pageSize))
        for path in [out, diff].compactMap({ $0 }) where input.isSameFile(as: path) {
            throw SyntheticImageError.outputIsInput(path: path)
        }
        let output = try out.map { path throws(SyntheticImageError) in try RawFile.create(path) }
        if let output, sparse { try output.truncate(to: size) }
        let diffFile = try diff.map { path throws(SyntheticImageError) in try RawFile.create(path) }
        try diffFile?.truncate(to: size)

        var gen = NextGenerator(pages: pages, fraction: fraction, seed: seed, poolSeed: poolSeed, mix: dirtyMix)
        let chunkPages = min(SyntheticLayout.chunkPages, pages)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkPages * pageSize, alignment: pageSize)
        defer { buf.deallocate() }
        var p0 = 0, chunk = 0
        while p0 < pages {
            let n = min(chunkPages, pages - p0)
            let offset = Int64(p0) * Int64(pageSize)
            let chunkBytes = UnsafeMutableRawBufferPointer(rebasing: buf[0..<(n * pageSize)])
            let hasDirty = gen.hasDirty(from: p0, count: n)
            if output != nil || hasDirty {
                try input.preadAll(chunkBytes, at: offset)
            }
            gen.apply(chunk: chunk, firstPage: p0, pages: n, to: buf.baseAddress!)
            if let output {
                try output.writePages(UnsafeRawBufferPointer(chunkBytes), at: offset, sparse: sparse)
            }
            if let diffFile, hasDirty {
                // Every dirty page is written as data, zero or not.
                for (s, e) in gen.dirtyExtents(from: p0, count: n) {
                    try diffFile.pwriteAll(UnsafeRawBufferPointer(rebasing: buf[((s - p0) * pageSize)..<((e - p0) * pageSize)]),
                                           at: Int64(s) * Int64(pageSize))
                }
            }
            p0 += n
            chunk += 1
        }
        return gen.stats(bytes: size, sparse: sparse, seconds: elapsed(since: start))
    }

    // MARK: - Memory

    /// In-memory base image; same bytes as `writeBase` with the same arguments.
    public static func makeBase(size: Int, seed: UInt64,
                                poolSeed: UInt64 = SyntheticLayout.defaultPoolSeed,
                                mix: PageMix = .base) -> [UInt8] {
        makeBaseWithStats(size: size, seed: seed, poolSeed: poolSeed, mix: mix).image
    }

    /// In-memory base image and its stats.
    public static func makeBaseWithStats(size: Int, seed: UInt64,
                                         poolSeed: UInt64 = SyntheticLayout.defaultPoolSeed,
                                         mix: PageMix = .base) -> (image: [UInt8], stats: Stats) {
        precondition(size > 0 && size % pageSize == 0, "size must be a positive multiple of 4096")
        let start = ContinuousClock.now
        let pages = size / pageSize
        var gen = BaseGenerator(seed: seed, poolSeed: poolSeed, mix: mix)
        var image = [UInt8](repeating: 0, count: size)
        image.withUnsafeMutableBytes { buf in
            var p0 = 0, chunk = 0
            while p0 < pages {
                let n = min(SyntheticLayout.chunkPages, pages - p0)
                gen.fill(chunk: chunk, pages: n, into: buf.baseAddress! + p0 * pageSize)
                p0 += n
                chunk += 1
            }
        }
        return (image, gen.stats(pages: pages, sparse: false, seconds: elapsed(since: start)))
    }

    /// In-memory next image; same bytes and dirty pages as `writeNext` on a file holding `base`.
    public static func makeNext(base: [UInt8], fraction: Double = 0.05, seed: UInt64,
                                poolSeed: UInt64 = SyntheticLayout.defaultPoolSeed,
                                dirtyMix: PageMix = .dirty) -> NextImage {
        precondition(!base.isEmpty && base.count % pageSize == 0, "base size must be a positive multiple of 4096")
        precondition(fraction >= 0 && fraction <= 1, "fraction must be in 0...1")
        let start = ContinuousClock.now
        let pages = base.count / pageSize
        var gen = NextGenerator(pages: pages, fraction: fraction, seed: seed, poolSeed: poolSeed, mix: dirtyMix)
        var image = base
        image.withUnsafeMutableBytes { buf in
            var p0 = 0, chunk = 0
            while p0 < pages {
                let n = min(SyntheticLayout.chunkPages, pages - p0)
                gen.apply(chunk: chunk, firstPage: p0, pages: n, to: buf.baseAddress! + p0 * pageSize)
                p0 += n
                chunk += 1
            }
        }
        let dirty = gen.dirty.indices.filter { gen.dirty[$0] }
        return NextImage(image: image, dirtyPages: dirty,
                         stats: gen.stats(bytes: Int64(base.count), sparse: false, seconds: elapsed(since: start)))
    }

    /// `count` text/struct-like pages (the `comp` kind), for measuring compressibility.
    public static func makeCompPages(count: Int, seed: UInt64,
                                     poolSeed: UInt64 = SyntheticLayout.defaultPoolSeed) -> [UInt8] {
        let tables = ContentTables(poolSeed: poolSeed)
        var rng = Xoshiro256StarStar(seed, 20)
        var out = [UInt8](repeating: 0, count: count * pageSize)
        out.withUnsafeMutableBytes { buf in
            for p in 0..<count {
                CompPageWriter.write(into: buf.baseAddress! + p * pageSize,
                                     vocab: tables.vocab, phrases: tables.phrases, rng: &rng)
            }
        }
        return out
    }

    /// The shared library pool (dup pages come from here): half comp-like, half random.
    public static func poolPages(poolSeed: UInt64 = SyntheticLayout.defaultPoolSeed) -> [UInt8] {
        ContentTables(poolSeed: poolSeed).pool
    }

    /// Dirty-page mask of a next image: `fraction` of `pages`, rounded, in clustered
    /// non-overlapping runs of 1...64 pages.
    public static func dirtyMask(pages: Int, fraction: Double, seed: UInt64) -> [Bool] {
        NextGenerator.makeDirtyMask(pages: pages, fraction: fraction, seed: seed)
    }

    static func elapsed(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        let s = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        return (s * 1000).rounded() / 1000
    }
}

// MARK: - Core

struct BaseGenerator {
    let tables: ContentTables
    var layout: RunLayout
    let seed: UInt64
    var poolSeed: UInt64
    var counts = [Int](repeating: 0, count: 4)

    init(seed: UInt64, poolSeed: UInt64, mix: PageMix) {
        self.tables = ContentTables(poolSeed: poolSeed)
        self.layout = RunLayout(rng: Xoshiro256StarStar(seed, 0), mix: mix, poolPages: tables.poolPages)
        self.seed = seed
        self.poolSeed = poolSeed
    }

    /// Generates the `pages` pages of chunk `chunk` into `dst`.
    mutating func fill(chunk: Int, pages: Int, into dst: UnsafeMutableRawPointer) {
        var rng = Xoshiro256StarStar(seed, 1, UInt64(chunk))
        let ps = SyntheticLayout.pageSize
        let tables = self.tables
        var layout = self.layout, counts = self.counts
        defer { self.layout = layout; self.counts = counts }
        tables.vocab.withUnsafeBufferPointer { vocab in
            tables.phrases.withUnsafeBufferPointer { phrases in
                tables.pool.withUnsafeBytes { pool in
                    for i in 0..<pages {
                        let (kind, poolIndex) = layout.next()
                        counts[Int(kind.rawValue)] += 1
                        PageFill.fill(dst + i * ps, kind: kind, poolIndex: poolIndex, pool: pool,
                                      vocab: vocab.baseAddress!, phrases: phrases.baseAddress!, rng: &rng)
                    }
                }
            }
        }
    }

    func stats(pages: Int, sparse: Bool, seconds: Double) -> SyntheticImage.Stats {
        SyntheticImage.Stats(mode: "base", bytes: Int64(pages) * Int64(SyntheticLayout.pageSize), pages: pages,
                             seed: seed, poolSeed: poolSeed, poolPages: tables.poolPages, sparse: sparse,
                             zeroPages: counts[0], dupPages: counts[1], compPages: counts[2], randPages: counts[3],
                             dirtyPages: 0, dirtyRuns: 0, changedPages: nil, fraction: nil, seconds: seconds)
    }
}

struct NextGenerator {
    let tables: ContentTables
    let dirty: [Bool]
    var layout: RunLayout
    let seed: UInt64
    let poolSeed: UInt64
    let fraction: Double
    var counts = [Int](repeating: 0, count: 4)
    var changed = 0

    init(pages: Int, fraction: Double, seed: UInt64, poolSeed: UInt64, mix: PageMix) {
        self.tables = ContentTables(poolSeed: poolSeed)
        self.dirty = NextGenerator.makeDirtyMask(pages: pages, fraction: fraction, seed: seed)
        self.layout = RunLayout(rng: Xoshiro256StarStar(seed, 12), mix: mix, poolPages: tables.poolPages)
        self.seed = seed
        self.poolSeed = poolSeed
        self.fraction = fraction
    }

    /// Clustered dirty runs: random start, length 1...64; pages already dirty are not
    /// counted twice; the last run is cut where the target is reached.
    static func makeDirtyMask(pages: Int, fraction: Double, seed: UInt64) -> [Bool] {
        var mask = [Bool](repeating: false, count: pages)
        let target = min(pages, Int((Double(pages) * fraction).rounded()))
        var rng = Xoshiro256StarStar(seed, 10)
        var got = 0
        while got < target {
            let s = rng.below(pages)
            let e = min(pages, s + rng.below(SyntheticLayout.maxRun) + 1)
            var p = s
            while p < e && got < target {
                if !mask[p] { mask[p] = true; got += 1 }
                p += 1
            }
        }
        return mask
    }

    func hasDirty(from p0: Int, count n: Int) -> Bool {
        dirty[p0..<(p0 + n)].contains(true)
    }

    /// Maximal dirty runs within [p0, p0+n), as half-open page ranges.
    func dirtyExtents(from p0: Int, count n: Int) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        var p = p0
        let end = p0 + n
        while p < end {
            while p < end && !dirty[p] { p += 1 }
            let s = p
            while p < end && dirty[p] { p += 1 }
            if p > s { out.append((s, p)) }
        }
        return out
    }

    /// Overwrites the dirty pages of chunk `chunk` (pages p0..<p0+n) in `buf`, which
    /// holds the base's pages on entry. Counts pages whose content changed.
    mutating func apply(chunk: Int, firstPage p0: Int, pages n: Int, to buf: UnsafeMutableRawPointer) {
        var rng = Xoshiro256StarStar(seed, 11, UInt64(chunk))
        let ps = SyntheticLayout.pageSize
        let tables = self.tables, dirty = self.dirty
        var layout = self.layout, counts = self.counts, changed = self.changed
        defer { self.layout = layout; self.counts = counts; self.changed = changed }
        tables.vocab.withUnsafeBufferPointer { vocab in
            tables.phrases.withUnsafeBufferPointer { phrases in
                tables.pool.withUnsafeBytes { pool in
                    withUnsafeTemporaryAllocation(byteCount: ps, alignment: 16) { tmp in
                        let fresh = tmp.baseAddress!
                        for i in 0..<n {
                            let (kind, poolIndex) = layout.next()  // the layout covers every page
                            guard dirty[p0 + i] else { continue }
                            counts[Int(kind.rawValue)] += 1
                            PageFill.fill(fresh, kind: kind, poolIndex: poolIndex, pool: pool,
                                          vocab: vocab.baseAddress!, phrases: phrases.baseAddress!, rng: &rng)
                            let page = buf + i * ps
                            if !PageOps.equal(page, fresh) {
                                changed += 1
                                memcpy(page, fresh, ps)
                            }
                        }
                    }
                }
            }
        }
    }

    func stats(bytes: Int64, sparse: Bool, seconds: Double) -> SyntheticImage.Stats {
        var runs = 0
        var prev = false
        for d in dirty {
            if d && !prev { runs += 1 }
            prev = d
        }
        return SyntheticImage.Stats(
            mode: "next", bytes: bytes, pages: dirty.count, seed: seed, poolSeed: poolSeed,
            poolPages: tables.poolPages, sparse: sparse,
            zeroPages: counts[0], dupPages: counts[1], compPages: counts[2], randPages: counts[3],
            dirtyPages: counts.reduce(0, +), dirtyRuns: runs, changedPages: changed, fraction: fraction,
            seconds: seconds)
    }
}
