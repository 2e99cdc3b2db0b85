import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A connected Unix stream socket with line-oriented reads and deadlines: the transport of QMP and
/// of the guest agent's console.
final class UnixSocket {
    let path: String
    private let fd: Int32
    private var pending: [UInt8] = []
    /// Where the unread part of `pending` starts.
    private var start = 0
    /// How far past `start` `pending` is known to hold no newline: a long line arriving in many reads is
    /// scanned once, not once per read.
    private var scanned = 0

    init(connectTo path: String) throws(SandboxError) {
        self.path = path
        var addr = try Self.address(path)
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io("socket for \(path)", errno) }
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw .io("connect to \(path)", e)
        }
    }

    /// The address of `path`, which must fit a Unix socket's 107 bytes.
    static func address(_ path: String) throws(SandboxError) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw .badArgument("socket path '\(path)' is longer than the \(MemoryLayout.size(ofValue: addr.sun_path) - 1) bytes a Unix socket allows: use a shorter sandbox directory")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return addr
    }

    /// Connects, retrying until `deadline` (the peer may still be starting).
    static func connect(_ path: String, until deadline: Date) throws(SandboxError) -> UnixSocket {
        while true {
            do { return try UnixSocket(connectTo: path) } catch {
                if Date() >= deadline { throw error }
                usleep(20_000)
            }
        }
    }

    deinit { close(fd) }

    /// The connected descriptor, for calls that need more than a byte stream (descriptor passing).
    var descriptorForTransfer: Int32 { fd }

    func send(_ text: String) throws(SandboxError) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("write to \(path)", errno)
            }
            done += n
        }
    }

    /// The next line (without its newline), or throws `timeout` at the deadline, or `closed`.
    func readLine(until deadline: Date) throws(SandboxError) -> String {
        String(decoding: try readLineBytes(until: deadline), as: UTF8.self)
    }

    /// The next line as bytes (without its newline and a trailing `\r`): streamed output frames
    /// are decoded from these without a detour through `String`.
    func readLineBytes(until deadline: Date) throws(SandboxError) -> [UInt8] {
        while true {
            if let nl = pending[(start + scanned)...].firstIndex(of: 0x0A) {
                var end = nl
                if end > start && pending[end - 1] == 0x0D { end -= 1 }
                let line = Array(pending[start..<end])
                start = nl + 1
                scanned = 0
                // Drop what was read once it is most of the buffer (not on every line: a stream
                // of large frames would move the rest each time).
                if start == pending.count {
                    pending.removeAll(keepingCapacity: true)
                    start = 0
                } else if start > 1 << 20 && start * 2 > pending.count {
                    pending.removeFirst(start)
                    start = 0
                }
                return line
            }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw .timeout("no answer on \(path)") }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let rc = poll(&pfd, 1, Int32(min(remaining, 1) * 1000) + 1)
            if rc < 0 { if errno == EINTR { continue }; throw .io("poll \(path)", errno) }
            if rc == 0 { continue }
            scanned = pending.count - start
            let before = pending.count
            pending.append(contentsOf: repeatElement(0, count: Self.readSize))
            let n = pending.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + before, Self.readSize, 0) }
            pending.removeLast(Self.readSize - max(n, 0))
            if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; throw .io("read \(path)", errno) }
            if n == 0 { throw .closed(path) }
        }
    }

    private static let readSize = 256 << 10
}
