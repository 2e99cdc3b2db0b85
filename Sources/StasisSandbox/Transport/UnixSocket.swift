import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A connected Unix stream socket with line-oriented reads and deadlines: the transport of QMP and
/// of the guest agent's console.
final class UnixSocket {
    let path: String
    private let fd: Int32
    /// Received bytes: the unread ones are `buffer[start..<end]`.
    private var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 0)
    private var capacity = 0
    private var start = 0
    private var end = 0
    /// How far past `start` the buffer is known to hold no newline: a long line arriving in many
    /// reads is scanned once, not once per read.
    private var scanned = 0

    init(connectTo path: String) throws(SandboxError) {
        self.path = path
        var addr = try Self.address(path)
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io("socket for \(path)", errno) }
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // Not closed here: the object is whole by now, so `deinit` runs and closes it. Closing it
        // here too closed the number twice, and the second close could hit a descriptor another
        // thread had just opened (this path runs every 20 ms while QEMU starts).
        guard rc == 0 else { throw .io("connect to \(path)", errno) }
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

    deinit {
        close(fd)
        buffer.deallocate()
    }

    /// Ends the connection now, while the descriptor stays allocated until this object goes: a
    /// thread that still holds it (a stdin pump blocked reading its input) then fails its next
    /// send instead of writing to whatever reused the number. QEMU serves one agent connection
    /// at a time, so a connection left open by such a thread would hold up the next one.
    func shutdownConnection() {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

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
    /// are decoded from these without a detour through `String`. The buffer is raw memory
    /// scanned with `memchr` and filled by `recv` in place: a stream of 64 KiB frames costs one
    /// copy per line, not a pass per byte.
    func readLineBytes(until deadline: Date) throws(SandboxError) -> [UInt8] {
        while true {
            if let line = takeLine() { return line }
            try receive(until: deadline)
        }
    }

    /// Exactly `count` bytes (a binary frame's body after its header line).
    func readBytes(count: Int, until deadline: Date) throws(SandboxError) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            let take = min(count - result.count, end - start)
            if take > 0 {
                result.append(contentsOf: UnsafeBufferPointer(start: buffer + start, count: take))
                start += take
                scanned = 0
                if start == end { start = 0; end = 0 }
                continue
            }
            try receive(until: deadline)
        }
        return result
    }

    /// Waits (up to a second at a time, until `deadline`) for bytes and appends what one `recv`
    /// gives; returns without data on a wake-up that brought none.
    private func receive(until deadline: Date) throws(SandboxError) {
        let remaining = deadline.timeIntervalSinceNow
        guard remaining > 0 else { throw .timeout("no answer on \(path)") }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let rc = poll(&pfd, 1, Int32(min(remaining, 1) * 1000) + 1)
        if rc < 0 { if errno == EINTR { return }; throw .io("poll \(path)", errno) }
        if rc == 0 { return }
        reserve(Self.readSize)
        let n = recv(fd, buffer + end, capacity - end, 0)
        if n < 0 { if errno == EINTR || errno == EAGAIN { return }; throw .io("read \(path)", errno) }
        if n == 0 { throw .closed(path) }
        end += n
    }

    /// A complete line from the buffer, if one is there.
    private func takeLine() -> [UInt8]? {
        guard end > start + scanned, let found = memchr(buffer + start + scanned, 0x0A, end - start - scanned) else {
            scanned = end - start
            return nil
        }
        let nl = buffer.distance(to: found.assumingMemoryBound(to: UInt8.self))
        var stop = nl
        if stop > start && buffer[stop - 1] == 0x0D { stop -= 1 }
        let line = [UInt8](UnsafeBufferPointer(start: buffer + start, count: stop - start))
        start = nl + 1
        scanned = 0
        if start == end { start = 0; end = 0 }
        return line
    }

    /// Room for `bytes` more after `end`: moves the unread part to the front, or grows.
    private func reserve(_ bytes: Int) {
        if capacity - end >= bytes { return }
        if start > 0 {
            memmove(buffer, buffer + start, end - start)
            end -= start
            start = 0
            if capacity - end >= bytes { return }
        }
        let grown = max(capacity * 2, end + bytes)
        let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        fresh.update(from: buffer, count: end)
        buffer.deallocate()
        buffer = fresh
        capacity = grown
    }

    private static let readSize = 256 << 10
}
