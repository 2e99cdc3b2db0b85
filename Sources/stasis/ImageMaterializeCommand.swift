import ArgumentParser
import Foundation
import StasisStore

struct ImageMaterializeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "materialize",
        abstract: "Write an image back to a file, bit-exact.",
        discussion: """
            Zero chunks become holes. Chunks are read in pack order and each is verified against \
            its SHA-256 before it is written. The file is written under a temporary name, fsynced \
            and renamed into place: OUT appears complete or not at all.
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: ArgumentHelp("Image id or unique prefix.", valueName: "IMAGE"))
    var image: String

    @Argument(help: ArgumentHelp("Output file.", valueName: "OUT"))
    var output: String

    @Flag(name: .long, help: "Replace OUT if it exists.")
    var force = false

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let store = try options.open()
            let started = Date()
            let result = try store.materialize(image, to: output, overwrite: force, progress: options.progress)
            if options.json {
                struct Report: Encodable { var result: MaterializeResult; var seconds: Double }
                CommandOutput.json(Report(result: result, seconds: Date().timeIntervalSince(started)))
            } else {
                CommandOutput.line("wrote \(result.path): \(ByteCount.format(result.size)) (\(ByteCount.format(result.dataBytes)) data, the rest holes)")
                if let sources = result.sources, let from = sources.objects, sources.fetchedBytes > 0 {
                    CommandOutput.line("fetched \(ByteCount.format(sources.fetchedBytes)) from \(from): \(sources.wholePacks) pack(s) whole, "
                                       + "\(sources.rangedRequests) ranged GET(s) from \(sources.rangedPacks) more")
                }
            }
        }
    }
}
