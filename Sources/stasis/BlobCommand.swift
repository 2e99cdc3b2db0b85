import ArgumentParser
import Foundation
import StasisStore

struct BlobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blob",
        abstract: "Store and read byte streams (logs, payloads) cut by content-defined chunking.",
        subcommands: [BlobPutCommand.self, BlobGetCommand.self, BlobListCommand.self, BlobRemoveCommand.self])
}

struct BlobPutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Store a file (or - for stdin) and print its id.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("File to store, or - for standard input.", valueName: "FILE"))
    var file: String

    func run() throws {
        let data: Data
        do {
            data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            CommandOutput.warn("error: cannot read '\(file)': \(error.localizedDescription)")
            throw ExitCode(1)
        }
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let record = try options.open().putBlob([UInt8](data))
            if options.json { CommandOutput.json(record) } else { CommandOutput.line(record.id) }
        }
    }
}

struct BlobGetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Write a blob to a file or stdout.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Blob id.", valueName: "ID")) var id: String
    @Option(name: .shortAndLong, help: ArgumentHelp("Output file (default: standard output).", valueName: "OUT"))
    var output: String?

    func run() throws {
        try CommandOutput.run(json: false) { () throws(StoreError) in
            let bytes = try options.open().blob(id)
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: Data(bytes)) else {
                    throw StoreError.invalidArgument(field: "--output", message: "cannot write '\(output)'")
                }
            } else {
                FileHandle.standardOutput.write(Data(bytes))
            }
        }
    }
}

struct BlobListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List blobs.")
    @OptionGroup var options: StoreOptions
    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let blobs = try options.open().catalog.blobs()
            if options.json { CommandOutput.json(blobs); return }
            for b in blobs { CommandOutput.line("\(b.id)  \(ByteCount.format(b.size))  \(b.chunks) chunks") }
        }
    }
}

struct BlobRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a blob (its chunks go at the next gc).")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Blob id.", valueName: "ID")) var id: String
    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            try options.open().removeBlob(id)
            if options.json { CommandOutput.json(["removed": id]) } else { CommandOutput.line("removed \(id)") }
        }
    }
}
