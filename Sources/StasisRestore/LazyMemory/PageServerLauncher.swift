import Foundation
import StasisFUSE
import StasisIO
import StasisSandbox

/// Starts, hands off and stops the page server of a lazy restore (`PageServer`), which runs as
/// `EXECUTABLE sandbox page-server …`: the CLI and the daemon pass their own binary.
public struct PageServerLauncher: Sendable {
    public var executable: String
    /// Seconds to wait for the page server to mount.
    public var readyTimeout: Double
    /// Seconds after the hand-off during which a restore without a recorded order records one
    /// (nil: the page server's default).
    public var orderSeconds: Double?

    public init(executable: String, readyTimeout: Double = 30, orderSeconds: Double? = nil) {
        self.executable = executable
        self.readyTimeout = readyTimeout
        self.orderSeconds = orderSeconds
    }

    /// The running binary, for the `stasis` CLI and daemon.
    public static var currentExecutable: PageServerLauncher? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map { PageServerLauncher(executable: $0) }
    }

    /// Mounts `image` lazily over the directory's `guest.mem` (created empty here) and returns
    /// once it serves; a page server that cannot is reported with its reason.
    /// `checkpoint`: the checkpoint restored, whose recorded access order is prefetched (or
    /// recorded by this restore when it has none).
    func start(store: String, image: String, checkpoint: String? = nil, in dir: SandboxDirectory, sandbox: String) throws(SandboxError) {
        guard FileManager.default.createFile(atPath: dir.memory, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw .io("create \(dir.memory)", EIO)
        }
        let ends: (read: FileDescriptor, write: FileDescriptor)
        do { ends = try Pipe.open(capacity: 4096) } catch { throw .io("pipe for the page server", error.errno.rawValue) }
        defer { ends.read.close() }
        let started = Result { () throws(SandboxError) in
            try Spawn.start(executable, ["sandbox", "page-server", "--store", store, "--image", image, "--directory", dir.path]
                                + (checkpoint.map { ["--checkpoint", $0] } ?? []) + (orderSeconds.map { ["--order-seconds", "\($0)"] } ?? []),
                            log: dir.path + "/page-server.log", descriptors: [ends.write.rawValue])
        }
        ends.write.close()
        let pid = try started.get()
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(readyTimeout)
        while Date() < deadline {
            var p = pollfd(fd: ends.read.rawValue, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 200)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 { continue }
            let n = buffer.withUnsafeMutableBytes { Glibc.read(ends.read.rawValue, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        let text = String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text == "ready" else {
            if Spawn.exitStatus(pid, within: 2) == nil { kill(pid, SIGKILL); _ = Spawn.exitStatus(pid, within: 5) }
            let log = (try? String(contentsOfFile: dir.path + "/page-server.log", encoding: .utf8)) ?? ""
            throw .lazyMemory(sandbox: sandbox, detail: text.isEmpty ? "the page server did not start: \(log.isEmpty ? "no answer" : log)" : text)
        }
    }

    /// The VM runs: the page server starts hydrating and watching it.
    func handOff(_ dir: SandboxDirectory) {
        guard let status = PageServerStatus.load(dir), status.isRunning else { return }
        kill(status.pid, SIGUSR1)
    }

    /// Ends the page server of `dir` (if it has one) and makes sure `guest.mem` is unmounted, so
    /// that the directory can be removed. Call after the VM is stopped.
    public static func release(_ dir: SandboxDirectory) {
        guard let status = PageServerStatus.load(dir) else { return }
        if status.isRunning {
            kill(status.pid, SIGTERM)
            for _ in 0..<250 where status.isRunning { usleep(20_000) }
            if status.isRunning { kill(status.pid, SIGKILL) }
        }
        // A page server that died leaves its mount behind (its connection aborted).
        _ = FUSEMount.unmount(dir.memory)
    }
}
