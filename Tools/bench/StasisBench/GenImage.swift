// stasis-bench gen-image base|next: deterministic synthetic VM-memory images.

import ArgumentParser
import StasisSynthetic

struct GenImage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen-image",
        abstract: "Generate deterministic synthetic VM-memory images (prints stats as one JSON line).",
        discussion: """
            4 KiB pages in runs of 1-64 pages, mix zero 45% / dup 15% / comp 25% / rand 15%. \
            Zero pages are left as holes unless --dense is given.
            """,
        subcommands: [Base.self, Next.self]
    )

    struct Base: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a base image.")

        @Argument(help: "Output file.") var out: String
        @Option(help: "Image size (multiple of 4 KiB): 64M, 1G, ...") var size: String = "1G"
        @Option(help: "Layout/content seed.") var seed: UInt64 = 1
        @Option(name: .customLong("pool-seed"), help: "Seed of the shared vocabulary and library pool.")
        var poolSeed: UInt64 = 1234
        @Flag(help: "Write zero pages as zeros instead of leaving holes.") var dense = false

        func run() throws {
            let bytes = try parseSize(size)
            let stats = try SyntheticImage.writeBase(to: out, size: bytes, seed: seed, poolSeed: poolSeed,
                                                     sparse: !dense)
            try printJSONLine(stats)
        }
    }

    struct Next: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the successor of a base image (a fraction of pages rewritten in clustered runs).")

        @Argument(help: "Base image.") var base: String
        @Argument(help: "Output image, or - for none (diff only).") var out: String
        @Option(help: "Fraction of pages to rewrite.") var frac: Double = 0.05
        @Option(help: "Seed of the dirty runs and new contents.") var seed: UInt64 = 2
        @Option(help: "Also write a sparse diff file holding exactly the dirty pages.") var diff: String?
        @Option(name: .customLong("pool-seed"), help: "Seed of the shared vocabulary and library pool.")
        var poolSeed: UInt64 = 1234
        @Option(name: .customLong("dirty-mix"), help: "zero,dup,comp,rand weights of rewritten pages.")
        var dirtyMix: String = "0.10,0.10,0.50,0.30"
        @Flag(help: "Write zero pages of the output image as zeros instead of holes.") var dense = false

        func validate() throws {
            guard (0...1).contains(frac) else { throw ValidationError("--frac must be in 0...1") }
            guard PageMix(parsing: dirtyMix) != nil else { throw ValidationError("--dirty-mix needs four weights") }
            if out == "-" && diff == nil { throw ValidationError("OUT is - and no --diff: nothing to write") }
        }

        func run() throws {
            let stats = try SyntheticImage.writeNext(
                from: base, to: out == "-" ? nil : out, diff: diff, fraction: frac, seed: seed,
                poolSeed: poolSeed, dirtyMix: PageMix(parsing: dirtyMix)!, sparse: !dense)
            try printJSONLine(stats)
        }
    }
}
