import ArgumentParser
import Foundation
import StasisSessions
import StasisStore

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Create, list, show and remove checkpoints.",
        subcommands: [CheckpointCreateCommand.self, CheckpointListCommand.self, CheckpointShowCommand.self, CheckpointCatCommand.self, CheckpointRemoveCommand.self])
}

struct CheckpointCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a checkpoint of a session from files and print its id.",
        discussion: """
            Images (guest memory, disks) are captured into the chunk store, incrementally against \
            the parent checkpoint's image of the same name; blobs (device state, launch config, \
            kernel, initrd) are stored by content. The checkpoint is bound to the session's current \
            history position and signed with the store's key; a `checkpoint` event is appended.
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String
    @Option(name: .long, help: ArgumentHelp("Guest memory file.", valueName: "FILE")) var memory: String?
    @Option(name: .long, help: ArgumentHelp("Sparse diff of the memory since the parent checkpoint.", valueName: "DIFF")) var memoryDirty: String?
    @Option(name: .long, help: ArgumentHelp("A disk image NAME=FILE (repeatable).", valueName: "NAME=FILE")) var disk: [String] = []
    @Option(name: .long, help: ArgumentHelp("Sparse diff of a disk NAME=DIFF (repeatable).", valueName: "NAME=DIFF")) var diskDirty: [String] = []
    @Option(name: .long, help: ArgumentHelp("The VMM's device-state file.", valueName: "FILE")) var state: String?
    @Option(name: .long, help: ArgumentHelp("The VM launch configuration.", valueName: "FILE")) var config: String?
    @Option(name: .long, help: ArgumentHelp("Guest kernel.", valueName: "FILE")) var kernel: String?
    @Option(name: .long, help: ArgumentHelp("Guest initrd.", valueName: "FILE")) var initrd: String?
    @Option(name: .long, help: ArgumentHelp("Any other blob NAME=FILE (repeatable).", valueName: "NAME=FILE")) var blob: [String] = []
    @Option(name: .long, help: ArgumentHelp("Parent checkpoint (default: the session's latest).", valueName: "CHECKPOINT")) var parent: String?
    @Flag(name: .long, help: "Start a new line: no parent.") var noParent = false
    @Option(name: .long, help: ArgumentHelp("A label NAME=VALUE (repeatable).", valueName: "NAME=VALUE")) var label: [String] = []

    func validate() throws {
        if parent != nil && noParent { throw ValidationError("--parent and --no-parent exclude each other") }
        if memoryDirty != nil && memory == nil { throw ValidationError("--memory-dirty needs --memory FILE") }
    }

    func run() throws {
        let disks = try CommandOutput.pairs(disk, option: "--disk")
        let diskDiffs = try CommandOutput.pairs(diskDirty, option: "--disk-dirty")
        if let unknown = diskDiffs.keys.first(where: { disks[$0] == nil }) {
            throw ValidationError("--disk-dirty \(unknown)=… names no --disk \(unknown)=FILE")
        }
        var images: [CheckpointSpec.ImageFile] = []
        if let memory { images.append(.init(name: "memory", path: memory, dirty: memoryDirty)) }
        for (name, path) in disks.sorted(by: { $0.key < $1.key }) { images.append(.init(name: "disk:" + name, path: path, dirty: diskDiffs[name])) }
        var blobs: [CheckpointSpec.BlobFile] = []
        for (name, path) in [("state", state), ("config", config), ("kernel", kernel), ("initrd", initrd)] {
            if let path { blobs.append(.init(name: name, path: path)) }
        }
        for (name, path) in try CommandOutput.pairs(blob, option: "--blob").sorted(by: { $0.key < $1.key }) { blobs.append(.init(name: name, path: path)) }
        let spec = CheckpointSpec(images: images, blobs: blobs, parent: parent, noParent: noParent,
                                  labels: try CommandOutput.pairs(label, option: "--label"))
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            try Labels.validate(spec.labels)
            let c = try options.openSessions().createCheckpoint(session, spec, progress: options.progress)
            if options.json { CommandOutput.json(CheckpointSummary(c)) } else { CommandOutput.line(c.id) }
        }
    }
}

struct CheckpointListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List a session's checkpoints, oldest first.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String
    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let all = try options.openSessions().checkpoints(session)
            if options.json { CommandOutput.json(all.map(CheckpointSummary.init)); return }
            if all.isEmpty { CommandOutput.line("no checkpoints"); return }
            CommandOutput.line("ID            PARENT        AT EVENT  CREATED               CONTENTS")
            let f = ISO8601DateFormatter()
            for c in all {
                CommandOutput.line("\(c.id.prefix(12))  \(c.record.parent.map { String($0.prefix(12)) } ?? "-           ")  \(String(c.record.historySize).padding(toLength: 8, withPad: " ", startingAt: 0))  \(f.string(from: c.createdAt))  \((c.record.images.keys.sorted() + c.record.blobs.keys.sorted()).joined(separator: ","))")
            }
        }
    }
}

struct CheckpointShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a checkpoint's record and signature.",
        discussion: "The checkpoint is verified first (its record's hash, its signature, its catalog row and references, its images and blobs); a damaged one is refused, naming what is wrong.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Checkpoint id or unique prefix.", valueName: "CHECKPOINT")) var checkpoint: String
    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(CheckpointVerificationError) in
            let sessions: SessionStore
            do throws(HistoryError) { sessions = try options.openSessions() } catch { throw .notChecked(error) }
            let c = try sessions.verifiedCheckpoint(checkpoint)
            if options.json { CommandOutput.json(CheckpointSummary(c)); return }
            CommandOutput.line("""
                id:        \(c.id)
                session:   \(c.record.session)
                parent:    \(c.record.parent ?? "-")
                created:   \(ISO8601DateFormatter().string(from: c.createdAt))
                history:   \(c.record.historySize) events, tree head \(c.record.historyRoot)
                signature: \(CheckpointSummary(c).signature)
                """)
            for (name, id) in c.record.images.sorted(by: { $0.key < $1.key }) { CommandOutput.line("image \(name): \(id)") }
            for (name, id) in c.record.blobs.sorted(by: { $0.key < $1.key }) { CommandOutput.line("blob  \(name): \(id)") }
            for (k, v) in c.record.labels.sorted(by: { $0.key < $1.key }) { CommandOutput.line("label \(k)=\(v)") }
        }
    }
}

struct CheckpointRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove a checkpoint.",
        discussion: "A checkpoint that others build on is kept until they go, unless --cascade removes them too. Chunks go at the next `stasis gc`.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Checkpoint id or unique prefix.", valueName: "CHECKPOINT")) var checkpoint: String
    @Flag(name: .long, help: "Also remove the checkpoints built on it.") var cascade = false
    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let removed = try options.openSessions().removeCheckpoint(checkpoint, cascade: cascade)
            if options.json { CommandOutput.json(["removed": removed]) } else { for id in removed { CommandOutput.line("removed \(id)") } }
        }
    }
}
