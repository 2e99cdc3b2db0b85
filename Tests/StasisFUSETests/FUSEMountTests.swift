import CFUSE
import Foundation
import Testing
@testable import StasisFUSE

/// A real mount over a file (root and /dev/fuse needed): what QEMU does with the lazy memory
/// file — reads, writes, a shared writable mapping whose stores come back as WRITEs, and a
/// process of another uid reopening the file through a descriptor root opened.
@Suite("FUSE mount over a file", .serialized, .enabled(if: geteuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse"), "needs root and /dev/fuse"))
struct FUSEMountTests {
    final class LockedFile: FUSEFile, @unchecked Sendable {
        let lock = NSLock()
        var bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var size: UInt64 { UInt64(bytes.count) }
        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int32 {
            lock.withLock { bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset) + buffer.count])) } }
            return 0
        }
        func write(at offset: UInt64, _ data: UnsafeRawBufferPointer) -> Int32 {
            lock.withLock { for (i, b) in data.enumerated() { bytes[Int(offset) + i] = b } }
            return 0
        }
        func synchronize() -> Int32 { 0 }
        var snapshot: [UInt8] { lock.withLock { bytes } }
    }

    struct Mounted: @unchecked Sendable {
        let path: String
        let mount: FUSEMount
        let server: FUSEFileServer
    }

    func withMount(_ file: LockedFile, _ body: (String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "fuse-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/guest.mem"
        FileManager.default.createFile(atPath: path, contents: nil)
        let m = Mounted(path: path, mount: try FUSEMount(over: path), server: FUSEFileServer(file: file))
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = m.mount.serve(m.server)
            done.signal()
        }
        defer {
            _ = FUSEMount.unmount(path)
            done.wait()
        }
        try body(path)
    }

    @Test("reads, writes and a shared writable mapping go through the served file")
    func sharedMapping() throws {
        let size = 1 << 20
        let file = LockedFile((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let original = file.snapshot
        try withMount(file) { path in
            var st = stat()
            #expect(stat(path, &st) == 0 && st.st_size == size && (st.st_mode & S_IFMT) == S_IFREG)
            let fd = open(path, O_RDWR)
            try #require(fd >= 0)
            defer { close(fd) }
            var head = [UInt8](repeating: 0, count: 4096)
            #expect(pread(fd, &head, 4096, 8192) == 4096)
            #expect(head == Array(original[8192..<12288]))
            let map = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))
            try #require(map != MAP_FAILED)
            defer { munmap(map, size) }
            let bytes = map.assumingMemoryBound(to: UInt8.self)
            #expect(bytes[12345] == original[12345])
            for i in stride(from: 0, to: size, by: 65536) { bytes[i + 7] = 0xEE }
            #expect(msync(map, size, MS_SYNC) == 0)
            #expect(fsync(fd) == 0)
            let after = file.snapshot
            for i in stride(from: 0, to: size, by: 65536) { #expect(after[i + 7] == 0xEE) }
            #expect(after[8] == original[8])
        }
    }

    @Test("a process of another uid reads the file through a descriptor root opened (allow_other)")
    func otherUser() throws {
        let file = LockedFile(Array("lazy memory\n".utf8) + [UInt8](repeating: 0, count: 4084))
        try withMount(file) { path in
            // As QEMU gets it: the file given to its user (a chown through SETATTR), then opened
            // by root and reopened by the child as /proc/self/fd/3.
            #expect(chown(path, 65534, 65534) == 0)
            let fd = open(path, O_RDWR)
            try #require(fd >= 0)
            defer { close(fd) }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "exec 3<>\(path) && exec /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups head -c 12 /proc/self/fd/3"]
            let out = Foundation.Pipe()
            p.standardOutput = out
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "lazy memory\n")
        }
    }
}
