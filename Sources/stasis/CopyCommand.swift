import ArgumentParser
import Foundation
import StasisRestore
import StasisSandbox

struct CopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp",
        abstract: "Copy files or directories between the host and a session's sandbox.",
        usage: "stasis cp HOST_PATH SESSION:/GUEST_PATH\nstasis cp SESSION:/GUEST_PATH HOST_PATH",
        discussion: """
            Like docker cp: the side with SESSION: (a session or sandbox id or prefix, then an \
            absolute guest path) is the sandbox. The source is copied into the target when the \
            target is an existing directory, else as the target. Directories are copied whole, \
            with modes, times and symbolic links; files copied out get your user as owner.

            The copy is a tar stream over the guest agent's channel, unpacked into a temporary \
            directory next to the target and then moved into place: a copy that fails (a full \
            guest disk, a missing path) says why, exits 1 and leaves the target as it was. A copy \
            in is recorded in the history as one file.written event per file (path, size, \
            sha256); a copy out as a note with the tar stream's size and sha256.
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("What to copy: a host path, or SESSION:/path.", valueName: "SOURCE")) var source: String
    @Argument(help: ArgumentHelp("Where to: SESSION:/path, or a host path.", valueName: "TARGET")) var target: String
    @Option(name: .long, help: "Seconds before the copy is given up (it is killed in the guest).") var timeout: Double = 3600

    /// `SESSION:/path` → (session, path); a host path (which may hold a colon after a slash) → nil.
    static func guestSide(_ argument: String) -> (session: String, path: String)? {
        guard let colon = argument.firstIndex(of: ":"), colon != argument.startIndex,
              !argument[..<colon].contains("/") else { return nil }
        return (String(argument[..<colon]), String(argument[argument.index(after: colon)...]))
    }

    func validate() throws {
        switch (Self.guestSide(source), Self.guestSide(target)) {
        case (nil, nil): throw ValidationError("one side must be in the sandbox: SESSION:/path (e.g. stasis cp ./src S:/root/src)")
        case (.some, .some): throw ValidationError("one side must be on the host: copies between two sandboxes go through the host")
        default: break
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(SandboxError) in
            let service = try options.sandboxService()
            let r: SandboxService.CopyResult
            if let guest = Self.guestSide(target) {
                r = try service.copyIn(guest.session, from: source, to: guest.path, timeout: timeout)
            } else {
                let guest = Self.guestSide(source)!
                r = try service.copyOut(guest.session, from: guest.path, to: target, timeout: timeout)
            }
            if options.json { CommandOutput.json(r) } else {
                CommandOutput.warn("copied \(r.files) file(s), \(ByteCount.format(r.fileBytes)), to \(r.target)")
            }
        }
    }
}
