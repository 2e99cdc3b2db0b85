import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts a long-running program (QEMU) with posix_spawn: stdin from /dev/null, stdout and stderr
/// appended to a log file, in a session of its own (a Ctrl-C meant for the CLI does not reach it),
/// with exactly the descriptors it is handed — as 3, 4, 5… in the order given — and no other of
/// ours. (Foundation's Process would keep a descriptor of its own open in the child.) A held
/// socket would make QEMU's one-client channels refuse the next client; a held pipe never
/// reaches EOF; a held store file would be an open door.
public enum Spawn {
    public static func start(_ program: String, _ arguments: [String], log: String, descriptors: [Int32] = []) throws(SandboxError) -> pid_t {
        // First above any number the child will use, so that placing one never overwrites another.
        var lifted: [Int32] = []
        defer { for fd in lifted { close(fd) } }
        for fd in descriptors {
            let high = fcntl(fd, F_DUPFD_CLOEXEC, 3 + Int32(descriptors.count) + 64)
            guard high >= 0 else { throw .io("prepare a descriptor for \(program)", errno) }
            lifted.append(high)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        for (index, fd) in lifted.enumerated() {
            // dup2 onto a new number clears close-on-exec on the copy.
            posix_spawn_file_actions_adddup2(&actions, fd, 3 + Int32(index))
        }
        closeInheritedDescriptors(&actions, from: 3 + Int32(descriptors.count))
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(Self.newSession | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw .io("start \(program)", rc) }
        return pid
    }

    /// POSIX_SPAWN_SETSID (glibc ≥ 2.26), which Swift's Glibc module does not import.
    private static let newSession: Int32 = 0x80

    /// The exit status of a child that has exited or exits within `seconds` (128 + signal if a
    /// signal ended it), or nil while it runs. Reaps it.
    public static func exitStatus(_ pid: pid_t, within seconds: TimeInterval = 0) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            var status: Int32 = 0
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid {
                // WIFEXITED / WEXITSTATUS, spelled out (they are macros).
                return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            }
            if rc < 0 && errno != EINTR { return nil }   // not our child
            if Date() >= deadline { return nil }
            usleep(10_000)
        }
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc ≥ 2.34 closes every descriptor from `first` up in the child
    /// (`posix_spawn_file_actions_addclosefrom_np`, looked up at run time because Swift's Glibc
    /// module does not declare it); elsewhere, each descriptor open now is closed one by one.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t, from first: Int32) {
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            let addCloseFrom = unsafeBitCast(symbol, to: AddCloseFrom.self)
            if addCloseFrom(&actions, first) == 0 { return }
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd >= first && fcntl(fd, F_GETFD) >= 0 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
    }
}
