import ArgumentParser
import Foundation
import StasisSessions

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two checkpoints: memory pages, disk blocks, blobs, and ext4 files.",
        discussion: """
            For every image: chunks (pages, blocks) changed, with byte ranges. For disks holding an \
            ext4 file system: files added, removed and modified, read through libext2fs from the \
            images directly (never mounted). Note: the journal is not replayed, so a disk captured \
            from a running guest shows what was on disk, not what was in its page cache.
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("The earlier checkpoint.", valueName: "CHECKPOINT_A")) var a: String
    @Argument(help: ArgumentHelp("The later checkpoint.", valueName: "CHECKPOINT_B")) var b: String
    @Flag(name: .long, help: "Skip the file-level comparison of ext4 disks.") var noFiles = false
    @Option(name: .long, help: "Print at most this many ranges and files per image (text output).") var limit = 20

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let d = try options.openSessions().diff(a, b, files: !noFiles)
            if options.json { CommandOutput.json(d); return }
            CommandOutput.line("\(d.before.prefix(12)) → \(d.after.prefix(12)): \(d.eventsBetween) events between")
            for i in d.images {
                let unit = i.name == "memory" ? "pages" : "blocks"
                let status = i.before == nil ? " (added)" : i.after == nil ? " (removed)" : ""
                CommandOutput.line("\(i.name)\(status): \(i.changedChunks) \(unit) of \(i.chunkSize) bytes changed (\(i.changedBytes) bytes; \(i.becameData) became data, \(i.becameZero) became zero)")
                for r in i.ranges.prefix(limit) { CommandOutput.line("  [\(r.offset), \(r.offset + r.length))  \(r.length) bytes") }
                if i.ranges.count > limit || i.rangesTruncated { CommandOutput.line("  … \(i.ranges.count - min(limit, i.ranges.count)) more ranges (--json lists them)") }
                if let f = i.files {
                    for (label, items) in [("+", f.added), ("-", f.removed), ("~", f.modified)] {
                        for item in items.prefix(limit) {
                            let sizes = label == "~" ? " \(item.sizeBefore.map(String.init) ?? "?") → \(item.sizeAfter.map(String.init) ?? "?") bytes" : ""
                            CommandOutput.line("  \(label) \(item.path) (\(item.kind))\(sizes)")
                        }
                        if items.count > limit { CommandOutput.line("  \(label) … \(items.count - limit) more") }
                    }
                }
            }
            if !d.changedBlobs.isEmpty { CommandOutput.line("blobs changed: \(d.changedBlobs.joined(separator: ", "))") }
        }
    }
}
