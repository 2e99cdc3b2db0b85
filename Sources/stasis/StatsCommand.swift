import ArgumentParser
import StasisStore

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Show logical and stored bytes, dedup and compression ratios.")

    @OptionGroup var options: StoreOptions

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let s = try options.open().stats()
            if options.json { CommandOutput.json(s); return }
            CommandOutput.line("""
                images:       \(s.images)   blobs: \(s.blobs)   packs: \(s.packs)   chunks: \(s.chunks)
                logical:      \(ByteCount.format(s.logicalBytes)) (\(ByteCount.format(s.dataBytes)) non-zero)
                unique:       \(ByteCount.format(s.uniqueBytes))   dedup \(s.dedupRatio)x
                stored:       \(ByteCount.format(s.storedChunkBytes))   compression \(s.compressionRatio)x (new data: \(s.compression)\(s.encrypted ? ", encrypted" : ""))
                on disk:      \(ByteCount.format(s.storeBytes)) (packs + catalog)   overall \(s.overallRatio)x
                reclaimable:  \(ByteCount.format(s.unreferencedBytes)) (run `stasis gc`)
                """)
        }
    }
}
