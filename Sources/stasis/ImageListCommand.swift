import ArgumentParser
import Foundation
import StasisStore

struct ImageListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the images in the store.")

    @OptionGroup var options: StoreOptions

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let images = try options.open().catalog.images()
            if options.json { CommandOutput.json(images); return }
            if images.isEmpty { CommandOutput.line("no images"); return }
            CommandOutput.line("ID            PARENT        SIZE        DATA        NEW         CREATED")
            let dates = ISO8601DateFormatter()
            for i in images {
                CommandOutput.line([
                    String(i.id.prefix(12)), String((i.parentID ?? "-").prefix(12)),
                    ByteCount.format(i.size), ByteCount.format(i.dataBytes), ByteCount.format(i.newBytes),
                    dates.string(from: i.createdAt),
                ].map { $0.padding(toLength: max(12, $0.count), withPad: " ", startingAt: 0) }.joined(separator: "  "))
            }
        }
    }
}

struct ImageShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one image: its record and chunk layout.")

    @OptionGroup var options: StoreOptions

    @Argument(help: ArgumentHelp("Image id or unique prefix.", valueName: "IMAGE"))
    var image: String

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let store = try options.open()
            let id = try store.catalog.resolveImage(image)
            guard let record = try store.catalog.image(id) else { throw StoreError.imageNotFound(id: image) }
            let manifest = try store.manifest(of: id)
            let distinct = Set(manifest.chunks.compactMap { $0 }).count
            if options.json {
                struct Show: Encodable { var image: ImageRecord; var chunks: Int; var zeroChunks: Int; var distinctChunks: Int }
                CommandOutput.json(Show(image: record, chunks: manifest.chunks.count,
                                        zeroChunks: manifest.chunks.count - manifest.dataChunkCount, distinctChunks: distinct))
                return
            }
            CommandOutput.line("""
                id:          \(record.id)
                parent:      \(record.parentID ?? "-")
                source:      \(record.source)
                created:     \(ISO8601DateFormatter().string(from: record.createdAt))
                size:        \(ByteCount.format(record.size)) (\(record.size) bytes)
                chunk size:  \(ByteCount.format(Int64(record.chunkSize)))
                chunks:      \(manifest.chunks.count) (\(manifest.chunks.count - manifest.dataChunkCount) zero, \(manifest.dataChunkCount) data, \(distinct) distinct)
                data:        \(ByteCount.format(record.dataBytes))
                new at capture: \(record.newChunks) chunks, \(ByteCount.format(record.newBytes))
                """)
        }
    }
}

struct ImageRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove images from the catalog.",
        discussion: "Their chunks stay until `stasis gc` removes what no image references.")

    @OptionGroup var options: StoreOptions

    @Argument(help: ArgumentHelp("Image ids or unique prefixes.", valueName: "IMAGE"))
    var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("name at least one image to remove") }
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let store = try options.open()
            // Resolve all first so that a bad id removes nothing.
            let ids = try images.map { (i) throws(StoreError) in try store.catalog.resolveImage(i) }
            for id in ids { _ = try store.removeImage(id) }
            if options.json { CommandOutput.json(["removed": ids]) } else {
                for id in ids { CommandOutput.line("removed \(id)") }
            }
        }
    }
}
