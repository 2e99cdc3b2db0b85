import ArgumentParser
import Foundation
import StasisSessions

struct CheckpointCatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Print a file as it was on a checkpoint's ext4 disk.",
        discussion: """
            CHECKPOINT:/PATH names the file: a checkpoint id or unique prefix, a colon, and an \
            absolute path inside the disk image (`.` and `..` are resolved inside the image; a path \
            that climbs out of it is refused; symbolic links are not followed). The checkpoint is \
            verified first. With several disks, --disk NAME chooses one (disk:NAME in \
            `checkpoint show`). The bytes go to standard output, or to -o FILE; --json prints the \
            file's size, SHA-256, mode and time instead (with -o) or with the bytes in base64.
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("The checkpoint and the path inside its disk.", valueName: "CHECKPOINT:/PATH")) var target: String
    @Option(name: .long, help: ArgumentHelp("The disk to read when the checkpoint has several.", valueName: "NAME")) var disk: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("Write the file here instead of standard output.", valueName: "FILE")) var output: String?

    func validate() throws {
        guard let colon = target.firstIndex(of: ":"), colon != target.startIndex, target[target.index(after: colon)...].hasPrefix("/") else {
            throw ValidationError("'\(target)' is not CHECKPOINT:/PATH (e.g. 3f2a:/etc/hostname)")
        }
    }

    func run() throws {
        let colon = target.firstIndex(of: ":")!
        let checkpoint = String(target[..<colon]), path = String(target[target.index(after: colon)...])
        try CommandOutput.run(json: options.json) { () throws(CheckpointFileError) in
            let sessions: SessionStore
            do throws(HistoryError) { sessions = try options.openSessions() } catch { throw .history(error) }
            var collected = Data()
            var file: FileHandle?
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: nil), let handle = FileHandle(forWritingAtPath: output) else {
                    throw .badPath(output, reason: "cannot write this file (-o): its directory is missing or not writable")
                }
                file = handle
            }
            let result: CheckpointFile
            do throws(CheckpointFileError) {
                result = try sessions.readFile(atCheckpoint: checkpoint, path: path, disk: disk) { bytes in
                    if let file { try file.write(contentsOf: bytes) } else if options.json { collected.append(contentsOf: bytes) } else { FileHandle.standardOutput.write(Data(bytes)) }
                }
                try? file?.close()
            } catch {
                try? file?.close()
                if let output { unlink(output) }
                throw error
            }
            if options.json {
                struct Shown: Encodable { var file: CheckpointFile; var output: String?; var base64: String? }
                CommandOutput.json(Shown(file: result, output: output, base64: output == nil ? collected.base64EncodedString() : nil))
            }
        }
    }
}
