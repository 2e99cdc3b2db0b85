// Tests of the deterministic synthetic VM-memory images (StasisSynthetic).

import Foundation
import StasisSynthetic
import Testing

private let page = SyntheticImage.pageSize

/// A fresh temporary directory, removed after `body`.
private func withTempDir<R>(_ body: (String) throws -> R) throws -> R {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("stasis-synth-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

private func pageBytes(_ image: [UInt8], _ p: Int) -> ArraySlice<UInt8> {
    image[(p * page)..<((p + 1) * page)]
}

private func isZero(_ bytes: ArraySlice<UInt8>) -> Bool { bytes.allSatisfy { $0 == 0 } }

/// Page indices covered by the allocated extents of a file (must be page-aligned).
private func allocatedPages(_ path: String) throws -> Set<Int> {
    var pages = Set<Int>()
    for r in try dataExtents(path: path) {
        #expect(r.lowerBound % Int64(page) == 0 && r.upperBound % Int64(page) == 0)
        for p in Int(r.lowerBound / Int64(page))..<Int(r.upperBound / Int64(page)) { pages.insert(p) }
    }
    return pages
}

/// Classifies a page from its bytes alone: zero; dup (equal to a pool page); comp
/// (few distinct 8-byte words); rand (almost all 512 words distinct).
private func classify(_ bytes: ArraySlice<UInt8>, pool: Set<ArraySlice<UInt8>>) -> PageKind {
    if isZero(bytes) { return .zero }
    if pool.contains(bytes) { return .dup }
    var words = Set<UInt64>()
    bytes.withUnsafeBytes { raw in
        for i in 0..<(page / 8) { words.insert(raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
    }
    return words.count > 400 ? .rand : .comp
}

private func poolSet(poolSeed: UInt64 = 1234) -> Set<ArraySlice<UInt8>> {
    let pool = SyntheticImage.poolPages(poolSeed: poolSeed)
    return Set((0..<(pool.count / page)).map { pageBytes(pool, $0) })
}

@Suite("Synthetic images")
struct SyntheticImageTests {
    @Test("same seed gives the same bytes, another seed different bytes")
    func determinism() throws {
        let a = SyntheticImage.makeBase(size: 2 << 20, seed: 1)
        let b = SyntheticImage.makeBase(size: 2 << 20, seed: 1)
        let c = SyntheticImage.makeBase(size: 2 << 20, seed: 2)
        #expect(a.count == 2 << 20)
        #expect(a == b)
        #expect(a != c)
        // A different pool seed changes the shared tables, hence comp/dup pages.
        let d = SyntheticImage.makeBase(size: 2 << 20, seed: 1, poolSeed: 99)
        #expect(a != d)
        // Next images are deterministic too.
        let n1 = SyntheticImage.makeNext(base: a, fraction: 0.1, seed: 2)
        let n2 = SyntheticImage.makeNext(base: a, fraction: 0.1, seed: 2)
        let n3 = SyntheticImage.makeNext(base: a, fraction: 0.1, seed: 3)
        #expect(n1.image == n2.image && n1.dirtyPages == n2.dirtyPages)
        #expect(n1.image != n3.image)
    }

    @Test("file writers produce the in-memory bytes; zero pages are holes")
    func fileMatchesMemory() throws {
        try withTempDir { dir in
            let size = 4 << 20
            let path = dir + "/base.img", dense = dir + "/dense.img"
            let stats = try SyntheticImage.writeBase(to: path, size: Int64(size), seed: 5)
            try SyntheticImage.writeBase(to: dense, size: Int64(size), seed: 5, sparse: false)
            let mem = SyntheticImage.makeBase(size: size, seed: 5)
            let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(file == mem)
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: dense))) == mem)
            #expect(stats.pages == size / page)
            let nonZero = Set((0..<(size / page)).filter { !isZero(pageBytes(mem, $0)) })
            #expect(try allocatedPages(path) == nonZero)
            #expect(try allocatedPages(dense).count == size / page)
            #expect(stats.zeroPages == size / page - nonZero.count)
        }
        #expect(throws: SyntheticImageError.self) {
            try SyntheticImage.writeBase(to: "/nonexistent-dir/x.img", size: 4096, seed: 1)
        }
        #expect(throws: SyntheticImageError.invalidSize(1000)) {
            try SyntheticImage.writeBase(to: "/tmp/never-written.img", size: 1000, seed: 1)
        }
    }

    @Test("16 MiB base: kind counts match the bytes and the 45/15/25/15 mix")
    func mixFractions() throws {
        let (image, stats) = SyntheticImage.makeBaseWithStats(size: 16 << 20, seed: 1)
        let pages = image.count / page
        #expect(stats.pages == pages)
        #expect(stats.zeroPages + stats.dupPages + stats.compPages + stats.randPages == pages)
        // Classify every page from its bytes; must agree with the generator's counts.
        let pool = poolSet()
        var counted = [PageKind: Int]()
        for p in 0..<pages { counted[classify(pageBytes(image, p), pool: pool), default: 0] += 1 }
        for kind in PageKind.allCases {
            #expect(counted[kind, default: 0] == stats.pages(of: kind), "kind \(kind)")
        }
        // 16 MiB holds only ~125 runs: a run-level draw has a standard deviation of about
        // 5 points per kind, so allow 12.
        let expected: [PageKind: Double] = [.zero: 0.45, .dup: 0.15, .comp: 0.25, .rand: 0.15]
        for (kind, want) in expected {
            let got = Double(stats.pages(of: kind)) / Double(pages)
            #expect(abs(got - want) < 0.12, "kind \(kind): \(got) vs \(want)")
        }
        // Pooled over 8 seeds (~1000 runs) the mix is much tighter.
        var total = [Int](repeating: 0, count: 4)
        for seed in UInt64(11)...18 {
            let s = SyntheticImage.makeBaseWithStats(size: 16 << 20, seed: seed).stats
            for kind in PageKind.allCases { total[Int(kind.rawValue)] += s.pages(of: kind) }
        }
        let all = Double(total.reduce(0, +))
        for (kind, want) in expected {
            let got = Double(total[Int(kind.rawValue)]) / all
            #expect(abs(got - want) < 0.04, "pooled kind \(kind): \(got) vs \(want)")
        }
        // Runs: a new kind starts at most every page, at least every 64 pages on average.
        var changes = 0
        var prev: PageKind? = nil
        for p in 0..<pages {
            let k = classify(pageBytes(image, p), pool: pool)
            if k != prev { changes += 1 }
            prev = k
        }
        #expect(changes > pages / 64 && changes < pages / 8)
    }

    @Test("comp pages compress ~2.1x per page and ~2.6x as a stream; dup pages come from the shared pool")
    func compressibility() throws {
        let comp = SyntheticImage.makeCompPages(count: 2048, seed: 3)
        let perPage = Double(comp.count) / Double(LZ4Measure.size(of: comp, blockSize: page))
        let stream = Double(comp.count) / Double(LZ4Measure.size(of: comp, blockSize: LZ4Measure.cliBlockSize))
        #expect(perPage > 1.9 && perPage < 2.3, "per-page lz4 ratio \(perPage)")
        #expect(stream > 2.35 && stream < 2.85, "stream lz4 ratio \(stream)")
        // Random pages do not compress.
        let image = SyntheticImage.makeBase(size: 4 << 20, seed: 4)
        let pool = poolSet()
        var dupFromOtherImage = 0
        let other = SyntheticImage.makeBase(size: 4 << 20, seed: 9)
        for p in 0..<(other.count / page) where pool.contains(pageBytes(other, p)) { dupFromOtherImage += 1 }
        #expect(dupFromOtherImage > 0)
        for p in 0..<(image.count / page) where classify(pageBytes(image, p), pool: pool) == .rand {
            let b = Array(pageBytes(image, p))
            #expect(LZ4Measure.size(of: b, blockSize: page) == page)
            break
        }
        // Whole-image analysis agrees with itself: zero pages + distinct pages bounded.
        let a = ImageAnalysis.analyze(image)
        #expect(a.pages == 1024)
        #expect(a.distinctNonZeroPages <= a.pages - a.zeroPages)
        #expect(a.lz4DistinctStreamBytes <= a.lz4DistinctPerPageBytes)
    }

    @Test("next image differs from its base in about `fraction` of pages, in clustered runs")
    func nextImage() throws {
        let base = SyntheticImage.makeBase(size: 16 << 20, seed: 1)
        let pages = base.count / page
        let next = SyntheticImage.makeNext(base: base, fraction: 0.05, seed: 2)
        let target = Int((Double(pages) * 0.05).rounded())
        #expect(next.dirtyPages.count == target)
        #expect(next.stats.dirtyPages == target)
        #expect(next.stats.zeroPages + next.stats.dupPages + next.stats.compPages + next.stats.randPages == target)
        #expect(Set(next.dirtyPages).count == target)
        #expect(next.dirtyPages == next.dirtyPages.sorted())
        let dirty = Set(next.dirtyPages)
        var differing = 0
        for p in 0..<pages where pageBytes(base, p) != pageBytes(next.image, p) {
            differing += 1
            #expect(dirty.contains(p), "page \(p) changed but is not dirty")
        }
        #expect(differing == next.stats.changedPages)
        // Some dirty pages may keep their content (zero over zero), most change.
        #expect(differing <= target && Double(differing) >= 0.8 * Double(target))
        // Clustered: runs of up to 64 pages, so far fewer runs than pages.
        #expect(next.stats.dirtyRuns >= 1 && next.stats.dirtyRuns <= target / 4)
        var runs = 0
        for (i, p) in next.dirtyPages.enumerated() where i == 0 || next.dirtyPages[i - 1] != p - 1 { runs += 1 }
        #expect(runs == next.stats.dirtyRuns)
        #expect(SyntheticImage.dirtyMask(pages: pages, fraction: 0.05, seed: 2).filter { $0 }.count == target)
        // Fraction 0 changes nothing; fraction 1 marks every page.
        #expect(SyntheticImage.makeNext(base: base, fraction: 0, seed: 2).image == base)
        #expect(SyntheticImage.makeNext(base: Array(base[0..<(64 * page)]), fraction: 1, seed: 2).dirtyPages.count == 64)
    }

    @Test("diff file: allocated ranges are exactly the dirty pages, dirty zero pages included")
    func diffFile() throws {
        try withTempDir { dir in
            let size = 16 << 20
            let basePath = dir + "/base.img", nextPath = dir + "/next.img", diffPath = dir + "/next.diff"
            try SyntheticImage.writeBase(to: basePath, size: Int64(size), seed: 1)
            let stats = try SyntheticImage.writeNext(from: basePath, to: nextPath, diff: diffPath,
                                                     fraction: 0.2, seed: 2)
            let base = SyntheticImage.makeBase(size: size, seed: 1)
            let mem = SyntheticImage.makeNext(base: base, fraction: 0.2, seed: 2)
            let nextFile = try [UInt8](Data(contentsOf: URL(fileURLWithPath: nextPath)))
            let diffFile = try [UInt8](Data(contentsOf: URL(fileURLWithPath: diffPath)))
            #expect(nextFile == mem.image)
            #expect(diffFile.count == size)
            #expect(stats.dirtyPages == mem.dirtyPages.count)
            #expect(stats.changedPages == mem.stats.changedPages)

            let dirty = Set(mem.dirtyPages)
            #expect(try allocatedPages(diffPath) == dirty)
            // Holes read as zero; dirty pages hold the new contents.
            for p in 0..<(size / page) {
                if dirty.contains(p) {
                    #expect(pageBytes(diffFile, p) == pageBytes(mem.image, p))
                } else {
                    #expect(isZero(pageBytes(diffFile, p)))
                }
            }
            // There are rewritten pages that are all zeros, and they are data, not holes.
            let zeroDirty = mem.dirtyPages.filter { isZero(pageBytes(mem.image, $0)) }
            #expect(stats.zeroPages > 0)
            #expect(zeroDirty.count >= stats.zeroPages)

            // Diff only (no output image): same diff.
            let diff2 = dir + "/only.diff"
            let s2 = try SyntheticImage.writeNext(from: basePath, to: nil, diff: diff2, fraction: 0.2, seed: 2)
            #expect(s2.dirtyPages == stats.dirtyPages)
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: diff2))) == diffFile)
            #expect(try allocatedPages(diff2) == dirty)
        }
    }
}
