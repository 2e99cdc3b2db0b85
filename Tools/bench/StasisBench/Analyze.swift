// stasis-bench analyze: page-level facts of image files (zero pages, distinct pages, LZ4 sizes).

import ArgumentParser
import StasisSynthetic

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Zero pages, distinct non-zero pages and LZ4 sizes of image files (one JSON line each).",
        discussion: """
            With several files, pages already seen in an earlier file are not counted again as distinct, \
            so `analyze base.img next.img` tells what the next image adds. --comp-pages N also measures \
            N generated comp pages (LZ4 per page and as a stream).
            """
    )

    @Argument(help: "Image files, analyzed in order.") var files: [String] = []
    @Option(name: .customLong("comp-pages"), help: "Also measure N generated comp pages.") var compPages = 0
    @Option(name: .customLong("pool-seed")) var poolSeed: UInt64 = 1234

    struct FileReport: Encodable {
        var file: String
        var analysis: ImageAnalysis
        var distinctNonZeroMiB: Double
        var lz4DistinctStreamMiB: Double
        var lz4DistinctPerPageMiB: Double
        var lz4WholeMiB: Double
        var seconds: Double
    }

    struct CompReport: Encodable {
        var compPages: Int
        var lz4RatioPerPage: Double
        var lz4RatioStream: Double
    }

    func run() throws {
        var dedup = PageDeduper()
        let mib = 1_048_576.0
        for f in files {
            let t0 = now()
            let a = try ImageAnalysis.analyze(path: f, deduper: &dedup)
            try printJSONLine(FileReport(
                file: f, analysis: a,
                distinctNonZeroMiB: round3(a.distinctNonZeroMiB),
                lz4DistinctStreamMiB: round3(Double(a.lz4DistinctStreamBytes) / mib),
                lz4DistinctPerPageMiB: round3(Double(a.lz4DistinctPerPageBytes) / mib),
                lz4WholeMiB: round3(Double(a.lz4WholeBytes) / mib),
                seconds: round3(now() - t0)))
        }
        if compPages > 0 {
            let pages = SyntheticImage.makeCompPages(count: compPages, seed: 7, poolSeed: poolSeed)
            let raw = Double(pages.count)
            try printJSONLine(CompReport(
                compPages: compPages,
                lz4RatioPerPage: round3(raw / Double(LZ4Measure.size(of: pages, blockSize: 4096))),
                lz4RatioStream: round3(raw / Double(LZ4Measure.size(of: pages, blockSize: LZ4Measure.cliBlockSize)))))
        }
    }
}
