import Foundation
import StasisSandbox
import Synchronization

/// The host's tar with a pipe on one side, for `stasis cp`: `create` turns a file or directory
/// into a stream (read through `input`), `extract` unpacks a stream written with `write`. GNU tar
/// strips leading `/` and refuses `..` in member names and creates symbolic links last, so a
/// stream from an untrusted guest cannot write outside the directory it is unpacked into.
final class HostTar: @unchecked Sendable {
    private let process: Process
    private let data: Pipe
    private let errors = Pipe()
    private let streamed = Mutex<Int64>(0)

    private init(arguments: [String], dataIsOutput: Bool) throws(SandboxError) {
        process = Process()
        data = Pipe()
        let tar = ["/usr/bin/tar", "/bin/tar"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let tar else { throw .badArgument("stasis cp needs tar on the host: apt-get install tar") }
        process.executableURL = URL(fileURLWithPath: tar)
        process.arguments = arguments
        if dataIsOutput { process.standardOutput = data; process.standardInput = FileHandle.nullDevice } else {
            process.standardInput = data; process.standardOutput = FileHandle.nullDevice
        }
        process.standardError = errors
        do { try process.run() } catch { throw .io("start \(tar)", EIO) }
    }

    /// `tar -c` of `parent/name`, members named from `name` down.
    static func create(parent: String, name: String) throws(SandboxError) -> HostTar {
        try HostTar(arguments: ["-c", "-f", "-", "--numeric-owner", "-C", parent, "--", name], dataIsOutput: true)
    }

    /// `tar -x` into `directory`; files get the caller's owner, not the guest's ids.
    static func extract(into directory: String) throws(SandboxError) -> HostTar {
        try HostTar(arguments: ["-x", "-f", "-", "--no-same-owner", "-C", directory], dataIsOutput: false)
    }

    /// The created stream, counted, for a command's stdin.
    var input: ExecInput {
        let source = ExecInput.descriptor(data.fileHandleForReading.fileDescriptor)
        return ExecInput { [self] in
            guard let chunk = source.read() else { return nil }
            streamed.withLock { $0 += Int64(chunk.count) }
            return chunk
        }
    }

    /// Feeds the stream to `tar -x`.
    func write(_ bytes: [UInt8]) throws(SandboxError) {
        let fd = data.fileHandleForWriting.fileDescriptor
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("write to the host's tar (it exited: \(errorText()))", errno)
            }
            done += n
        }
        streamed.withLock { $0 += Int64(bytes.count) }
    }

    /// Waits for tar: its exit status, the stream's length and what tar said on stderr. For
    /// `extract` this closes the stream first (its end). For `create`, `stop` ends a tar whose
    /// stream the guest stopped reading (it failed); the pipe's read end is left to close with
    /// this object, when the stdin pump lets go of it — closing it under a pump that may still
    /// call read would hand that descriptor number to whatever opens next (the next agent
    /// connection), and the pump would read its answers.
    func finish(stop: Bool = false) -> (status: Int32, bytes: Int64, errors: String) {
        try? data.fileHandleForWriting.close()
        // SIGKILL: a child may inherit a mask that blocks SIGTERM (Foundation spawns with the
        // calling thread's mask; test runners block most signals).
        if stop && process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return (process.terminationStatus, streamed.withLock { $0 }, errorText())
    }

    /// Ends tar after a failed copy.
    func abandon() {
        _ = finish(stop: true)
    }

    private func errorText() -> String {
        String(decoding: (try? errors.fileHandleForReading.readToEnd()) ?? Data(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
