import CFUSE
import Foundation
import Testing
@testable import StasisFUSE

/// The request handling of `FUSEFileServer`, byte for byte, without a mount: requests are laid
/// out as the kernel lays them (`<linux/fuse.h>` structs), replies are decoded the same way.
@Suite("FUSE requests and replies")
struct FUSEFileServerTests {
    /// A file in memory that records what it was asked.
    final class MemoryFile: FUSEFile {
        var bytes: [UInt8]
        var failReads: Int32 = 0
        var syncs = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var size: UInt64 { UInt64(bytes.count) }
        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int32 {
            if failReads != 0 { return failReads }
            bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset) + buffer.count])) }
            return 0
        }
        func write(at offset: UInt64, _ data: UnsafeRawBufferPointer) -> Int32 {
            for (i, b) in data.enumerated() { bytes[Int(offset) + i] = b }
            return 0
        }
        func synchronize() -> Int32 { syncs += 1; return 0 }
    }

    static func request<T>(_ opcode: fuse_opcode, unique: UInt64, _ body: T?, extra: [UInt8] = [], declaredLength: Int? = nil) -> [UInt8] {
        var payload: [UInt8] = []
        if var body { payload = withUnsafeBytes(of: &body) { Array($0) } }
        payload += extra
        let total = MemoryLayout<fuse_in_header>.size + payload.count
        var header = fuse_in_header()
        header.len = UInt32(declaredLength ?? total)
        header.opcode = opcode.rawValue
        header.unique = unique
        header.nodeid = 1
        return withUnsafeBytes(of: &header) { Array($0) } + payload
    }

    static func empty(_ opcode: fuse_opcode, unique: UInt64) -> [UInt8] { request(opcode, unique: unique, Optional<UInt8>.none) }

    struct Reply {
        var header: fuse_out_header
        var payload: [UInt8]
        func value<T>(_ type: T.Type) -> T { payload.withUnsafeBytes { $0.loadUnaligned(as: T.self) } }
    }

    static func decode(_ bytes: [UInt8]?) throws -> Reply {
        let bytes = try #require(bytes)
        let header = bytes.withUnsafeBytes { $0.loadUnaligned(as: fuse_out_header.self) }
        #expect(Int(header.len) == bytes.count)
        return Reply(header: header, payload: Array(bytes[MemoryLayout<fuse_out_header>.size...]))
    }

    func send(_ server: FUSEFileServer, _ bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBytes { server.respond(to: $0) }
    }

    func initialized(_ file: MemoryFile) throws -> FUSEFileServer {
        let server = FUSEFileServer(file: file)
        var initIn = fuse_init_in()
        initIn.major = UInt32(FUSE_KERNEL_VERSION)
        initIn.minor = 45
        initIn.max_readahead = 128 * 1024
        let reply = try Self.decode(send(server, Self.request(FUSE_INIT, unique: 1, initIn)))
        #expect(reply.header.error == 0 && reply.header.unique == 1)
        let out = reply.value(fuse_init_out.self)
        #expect(out.major == UInt32(FUSE_KERNEL_VERSION))
        #expect(out.minor == UInt32(FUSE_KERNEL_MINOR_VERSION))   // the lower of the two
        #expect(out.max_write == FUSEFileServer.maxWrite)
        #expect(out.flags & UInt32(FUSE_MAX_PAGES) != 0)
        return server
    }

    @Test("INIT agrees a version; GETATTR names one regular file of the served size; OPEN keeps the page cache")
    func initAndAttributes() throws {
        let file = MemoryFile([UInt8](repeating: 7, count: 10_000))
        let server = try initialized(file)
        let attr = try Self.decode(send(server, Self.empty(FUSE_GETATTR, unique: 2))).value(fuse_attr_out.self)
        #expect(attr.attr.size == 10_000 && attr.attr.nlink == 1 && attr.attr.ino == 1)
        #expect(attr.attr.mode == UInt32(S_IFREG) | 0o600)
        var openIn = fuse_open_in()
        openIn.flags = UInt32(O_RDWR)
        let open = try Self.decode(send(server, Self.request(FUSE_OPEN, unique: 3, openIn))).value(fuse_open_out.self)
        #expect(open.open_flags & UInt32(FOPEN_KEEP_CACHE) != 0)
        #expect(open.open_flags & UInt32(FOPEN_DIRECT_IO) == 0)   // a shared writable mmap needs the page cache
    }

    @Test("anything before INIT is answered EIO")
    func beforeInit() throws {
        let server = FUSEFileServer(file: MemoryFile([1, 2, 3]))
        let reply = try Self.decode(send(server, Self.empty(FUSE_GETATTR, unique: 9)))
        #expect(reply.header.error == -EIO && reply.header.unique == 9 && reply.payload.isEmpty)
    }

    @Test("READ returns the file's bytes, cut at its end; a failing file is answered with its errno")
    func reads() throws {
        let file = MemoryFile((0..<5000).map { UInt8($0 % 251) })
        let server = try initialized(file)
        func read(_ offset: UInt64, _ size: UInt32) throws -> Reply {
            var r = fuse_read_in()
            r.offset = offset
            r.size = size
            return try Self.decode(send(server, Self.request(FUSE_READ, unique: 4, r)))
        }
        #expect(try read(100, 50).payload == Array(file.bytes[100..<150]))
        #expect(try read(4990, 4096).payload == Array(file.bytes[4990...]))
        #expect(try read(5000, 4096).payload.isEmpty)
        #expect(try read(1 << 40, 4096).payload.isEmpty)
        file.failReads = EIO
        let failed = try read(0, 4096)
        #expect(failed.header.error == -EIO && failed.payload.isEmpty)
    }

    @Test("WRITE reaches the file and answers its size; past the end it is refused; FSYNC reaches the file")
    func writes() throws {
        let file = MemoryFile([UInt8](repeating: 0, count: 4096))
        let server = try initialized(file)
        var w = fuse_write_in()
        w.offset = 4000
        w.size = 96
        let data = [UInt8](repeating: 0xAB, count: 96)
        let reply = try Self.decode(send(server, Self.request(FUSE_WRITE, unique: 5, w, extra: data)))
        #expect(reply.header.error == 0 && reply.value(fuse_write_out.self).size == 96)
        #expect(Array(file.bytes[4000...]) == data && file.bytes[3999] == 0)
        w.offset = 4096
        w.size = 1
        #expect(try Self.decode(send(server, Self.request(FUSE_WRITE, unique: 6, w, extra: [1]))).header.error == -EFBIG)
        #expect(try Self.decode(send(server, Self.request(FUSE_FSYNC, unique: 7, fuse_fsync_in()))).header.error == 0)
        #expect(file.syncs == 1)
    }

    @Test("SETATTR may change owner and mode (a chown of the mounted file) but never the size")
    func setattr() throws {
        let server = try initialized(MemoryFile([UInt8](repeating: 0, count: 8192)))
        var s = fuse_setattr_in()
        s.valid = UInt32(FATTR_UID | FATTR_GID)
        s.uid = 3_000_000_123
        s.gid = 3_000_000_123
        let owned = try Self.decode(send(server, Self.request(FUSE_SETATTR, unique: 8, s))).value(fuse_attr_out.self)
        #expect(owned.attr.uid == 3_000_000_123 && owned.attr.gid == 3_000_000_123)
        s.valid = UInt32(FATTR_SIZE)
        s.size = 4096
        #expect(try Self.decode(send(server, Self.request(FUSE_SETATTR, unique: 9, s))).header.error == -EPERM)
        s.size = 8192
        #expect(try Self.decode(send(server, Self.request(FUSE_SETATTR, unique: 10, s))).header.error == 0)
    }

    @Test("truncated and malformed requests are refused, never read past their end")
    func malformed() throws {
        let file = MemoryFile([UInt8](repeating: 1, count: 4096))
        let server = try initialized(file)
        // Shorter than a header: not even its id can be read, so nothing is answered.
        #expect(send(server, [1, 2, 3]) == nil)
        // A READ whose body is cut: EIO to its id.
        let read = Self.request(FUSE_READ, unique: 11, fuse_read_in())
        let cut = Array(read[0..<(MemoryLayout<fuse_in_header>.size + 8)])
        var short = cut
        short.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(cut.count), as: UInt32.self) }
        let r1 = try Self.decode(send(server, short))
        #expect(r1.header.error == -EIO && r1.header.unique == 11)
        // A header that declares more bytes than arrived.
        let r2 = try Self.decode(send(server, Self.request(FUSE_GETATTR, unique: 12, Optional<UInt8>.none, declaredLength: 200)))
        #expect(r2.header.error == -EIO && r2.header.unique == 12)
        // A WRITE whose data is shorter than its size field: nothing is written.
        var w = fuse_write_in()
        w.size = 100
        let r3 = try Self.decode(send(server, Self.request(FUSE_WRITE, unique: 13, w, extra: [9, 9, 9])))
        #expect(r3.header.error == -EIO)
        #expect(file.bytes.allSatisfy { $0 == 1 })
        // Every cut of a valid WRITE is refused, none writes.
        w.size = 16
        let whole = Self.request(FUSE_WRITE, unique: 14, w, extra: [UInt8](repeating: 5, count: 16))
        for n in MemoryLayout<fuse_in_header>.size..<whole.count {
            var part = Array(whole[0..<n])
            part.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(n), as: UInt32.self) }
            #expect(try Self.decode(send(server, part)).header.error == -EIO)
        }
        #expect(file.bytes.allSatisfy { $0 == 1 })
    }

    @Test("FORGET and INTERRUPT take no reply; an operation the file does not serve is ENOSYS")
    func noReplyAndUnknown() throws {
        let server = try initialized(MemoryFile([0]))
        #expect(send(server, Self.request(FUSE_FORGET, unique: 15, fuse_forget_in())) == nil)
        #expect(send(server, Self.request(FUSE_INTERRUPT, unique: 16, fuse_interrupt_in())) == nil)
        #expect(try Self.decode(send(server, Self.empty(FUSE_MKDIR, unique: 17))).header.error == -ENOSYS)
        #expect(try Self.decode(send(server, Self.empty(FUSE_LSEEK, unique: 18))).header.error == -ENOSYS)
    }
}
