import ArgumentParser
import Foundation
import StasisStore

struct ImageCaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture an image file into the store and print its id.",
        discussion: """
            Reads FILE's allocated ranges (holes are never read), cuts them into chunks, stores \
            the chunks the store does not have yet, and commits the image in one transaction: \
            either the image exists afterwards, or nothing visible changed.

            Incremental: with --parent IMAGE --dirty DIFF, only the ranges allocated in DIFF are \
            read (from FILE) and everything else is taken from IMAGE. DIFF is a sparse file of \
            FILE's size holding only the changed pages — a Firecracker diff snapshot, for one \
            (then FILE and DIFF may be the same file). Dirtiness is decided by allocation, never \
            by content: a dirty page of zeros is still a change.
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: ArgumentHelp("The image file: a guest memory file or a raw disk image.", valueName: "FILE"))
    var file: String

    @Option(name: .long, help: ArgumentHelp("The image this one descends from (id or unique prefix).", valueName: "IMAGE"))
    var parent: String?

    @Option(name: .long, help: ArgumentHelp("Sparse diff file: only its allocated ranges changed since --parent.", valueName: "DIFF"))
    var dirty: String?

    @Option(name: .long, help: "Worker threads (default: one per core).")
    var workers: Int?

    @Option(name: .long, help: ArgumentHelp("Seal packs at this size (default 32M; from 64K to 1G).", valueName: "SIZE"))
    var packSize: String?

    func validate() throws {
        if dirty != nil && parent == nil {
            throw ValidationError("--dirty needs --parent IMAGE: the diff says what changed since that image")
        }
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        if let packSize, ByteCount.parse(packSize).map({ (64 << 10)...(1 << 30) ~= $0 }) != true {
            throw ValidationError("--pack-size '\(packSize)' must be a size from 64K to 1G")
        }
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let store = try options.open()
            var capture = CaptureOptions(parent: parent, dirtyPath: dirty)
            if let workers { capture.workers = workers }
            if let packSize { capture.packTargetSize = ByteCount.parse(packSize)! }
            let started = Date()
            let result = try store.capture(file, options: capture, progress: options.progress)
            if options.json {
                CommandOutput.json(CaptureReport(result: result, seconds: Date().timeIntervalSince(started)))
            } else {
                CommandOutput.line(result.image.id)
                CommandOutput.warn("captured \(ByteCount.format(result.image.size)) (\(ByteCount.format(result.image.dataBytes)) non-zero): " +
                    "read \(ByteCount.format(result.readBytes)), \(result.image.newChunks) new chunks, " +
                    "\(ByteCount.format(result.storedBytes)) written in \(result.packs.count) pack(s)" +
                    (result.alreadyStored ? "; this image was already in the store" : ""))
            }
        }
    }
}

/// The JSON shape of `image capture --json`.
struct CaptureReport: Encodable {
    var id: String
    var parent: String?
    var size: Int64
    var dataBytes: Int64
    var readBytes: Int64
    var newChunks: Int
    var newBytes: Int64
    var storedBytes: Int64
    var packs: [String]
    var alreadyStored: Bool
    var seconds: Double

    init(result: CaptureResult, seconds: Double) {
        id = result.image.id
        parent = result.image.parentID
        size = result.image.size
        dataBytes = result.image.dataBytes
        readBytes = result.readBytes
        newChunks = result.image.newChunks
        newBytes = result.image.newBytes
        storedBytes = result.storedBytes
        packs = result.packs
        alreadyStored = result.alreadyStored
        self.seconds = seconds
    }
}
