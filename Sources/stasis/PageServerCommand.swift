import ArgumentParser
import Foundation
import StasisRestore
import StasisStore

/// The page server of a lazy restore, started by the restore itself (hidden: no person runs it).
struct SandboxPageServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "page-server",
        abstract: "Serve a lazily restored sandbox's memory from the store (started by restores).",
        discussion: """
            Mounts a FUSE file over DIR/guest.mem that reads the memory image's chunks from the \
            store on first touch, verified, into DIR/guest.mem.overlay; writes \"ready\" on \
            descriptor 3 once mounted. With --checkpoint, prefetches that checkpoint's \
            recorded access order from the mount on, or records one (first touches until \
            --order-seconds after the hand-off) and stores it with the checkpoint. With --watch, stops the VM of DIR if its page server dies. \
            See Formats/lazy-restore.md.
            """,
        shouldDisplay: false)
    @Option(name: .long, help: ArgumentHelp("The store directory.", valueName: "DIR")) var store: String?
    @Option(name: .long, help: ArgumentHelp("The memory image id.", valueName: "IMAGE")) var image: String?
    @Option(name: .long, help: ArgumentHelp("The checkpoint restored: its recorded access order is prefetched, or one is recorded.", valueName: "ID")) var checkpoint: String?
    @Option(name: .long, help: ArgumentHelp("Seconds after the hand-off during which first touches are recorded.", valueName: "SECONDS"))
    var orderSeconds: Double = 10
    @Option(name: .long, help: ArgumentHelp("The sandbox directory.", valueName: "DIR")) var directory: String
    @Flag(name: .long, help: "Be the watchdog of DIR's page server instead.") var watch = false

    func validate() throws {
        if !watch && (store == nil || image == nil) { throw ValidationError("--store and --image are needed (or --watch)") }
        if !(orderSeconds >= 0 && orderSeconds <= 3600) { throw ValidationError("--order-seconds \(orderSeconds): give 0 to 3600 seconds") }
    }

    func run() throws {
        if watch { throw ExitCode(PageServerWatchdog.run(directory: directory)) }
        let contentStore: ContentStore
        do { contentStore = try ContentStore.open(at: store!) } catch {
            let line = Array("error: opening the store \(store!): \(error.description)\n".utf8)
            _ = line.withUnsafeBytes { write(PageServer.readyDescriptor, $0.baseAddress, $0.count) }
            throw ExitCode(1)
        }
        let executable = PageServerLauncher.currentExecutable?.executable ?? CommandLine.arguments[0]
        throw ExitCode(PageServer.run(store: contentStore, image: image!, checkpoint: checkpoint, directory: directory,
                                              executable: executable, orderWindow: orderSeconds))
    }
}
