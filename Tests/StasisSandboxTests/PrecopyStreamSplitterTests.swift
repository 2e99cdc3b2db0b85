import Foundation
import Testing
import StasisIO
@testable import StasisSandbox

/// The splitter against streams built here byte by byte in QEMU's layout (the real thing runs
/// in the microVM suite). Invariants: the memory image holds the last copy of every page and
/// holes where the guest's memory is zero; the device-state stream is exactly what
/// x-ignore-shared would write; any cut or damaged stream is refused, never half-accepted.
@Suite("Live checkpoint stream splitter")
struct PrecopyStreamSplitterTests {
    static let pageSize = 4096
    static let memSize = 16 * pageSize, romSize = 2 * pageSize

    /// A stream of a guest with a 16-page shared block `mem` and a 2-page `rom`, sent over
    /// three sections the way a pre-copy migration does (pages resent, CONTINUE across sections).
    struct Stream {
        var bytes: [UInt8] = []
        mutating func u8(_ v: UInt8) { bytes.append(v) }
        mutating func be32(_ v: UInt32) { bytes += PrecopyStreamSplitter.be32(v) }
        mutating func be64(_ v: UInt64) { bytes += PrecopyStreamSplitter.be64(v) }
        mutating func name(_ s: String) { u8(UInt8(s.utf8.count)); bytes += Array(s.utf8) }
        mutating func page(_ block: String?, _ index: Int, fill: UInt8) {
            be64(UInt64(index * pageSize) | 0x08 | (block == nil ? 0x20 : 0))
            if let block { name(block) }
            bytes += [UInt8](repeating: fill, count: pageSize)
        }
        mutating func zero(_ block: String?, _ index: Int, fill: UInt8 = 0) {
            be64(UInt64(index * pageSize) | 0x02 | (block == nil ? 0x20 : 0))
            if let block { name(block) }
            u8(fill)
        }
        mutating func endSection(_ id: UInt32 = 2) { be64(0x10); u8(0x7e); be32(id) }
    }

    static let devices: [UInt8] = [0x04, 0, 0, 0, 9, 3] + Array("dev".utf8) + [0, 0, 0, 0, 0, 0, 0, 1, 0xAB, 0xCD, 0x7e, 0, 0, 0, 9, 0x00]

    /// The parameters spoil one thing each, for the refusal tests.
    static func sample(subsection: Bool = false, device: String = "ram", extraFlags: UInt64 = 0, footerID: UInt32 = 2) -> Stream {
        var s = Stream()
        s.bytes += PrecopyStreamSplitter.header
        s.u8(0x07); s.be32(7); s.bytes += Array("microvm".utf8)
        if subsection { s.u8(0x05); s.name("configuration/target-page-bits"); s.be32(1); s.be32(12) }
        s.u8(0x01); s.be32(2); s.name(device); s.be32(0); s.be32(4)
        s.be64(UInt64(memSize + romSize) | 0x04)
        s.name("mem"); s.be64(UInt64(memSize))
        s.name("rom"); s.be64(UInt64(romSize))
        s.endSection(footerID)
        // Bulk pass: everything, zero pages as ZERO records.
        s.u8(0x02); s.be32(2)
        s.be64(0x08 | extraFlags); s.name("mem"); s.bytes += [UInt8](repeating: 1, count: pageSize)
        s.zero(nil, 1)
        s.page(nil, 2, fill: 2)
        s.page(nil, 3, fill: 3)
        s.page("rom", 0, fill: 0x55)
        s.zero(nil, 1, fill: 0)
        s.endSection()
        // The guest ran: page 2 rewritten, page 0 zeroed, page 5 filled with a constant byte.
        s.u8(0x02); s.be32(2)
        s.page("mem", 2, fill: 0x22)
        s.endSection()
        s.u8(0x03); s.be32(2)
        s.zero(nil, 0)            // CONTINUE: still block `mem` from the previous section
        s.zero(nil, 5, fill: 7)
        s.endSection()
        s.bytes += devices
        return s
    }

    static func expectedDeviceState() -> [UInt8] {
        var s = Stream()
        s.bytes += PrecopyStreamSplitter.header
        s.u8(0x07); s.be32(7); s.bytes += Array("microvm".utf8)
        s.u8(0x05); s.name("configuration/capabilities"); s.be32(1); s.be32(1); s.name("x-ignore-shared")
        s.u8(0x01); s.be32(2); s.name("ram"); s.be32(0); s.be32(4)
        s.be64(UInt64(memSize + romSize) | 0x04)
        s.name("mem"); s.be64(UInt64(memSize)); s.be64(0)
        s.name("rom"); s.be64(UInt64(romSize)); s.be64(0)
        s.endSection()
        s.u8(0x03); s.be32(2)
        s.zero("rom", 0, fill: 0x55)
        s.zero("rom", 1, fill: 0)
        s.endSection()
        s.bytes += devices
        return s.bytes
    }

    final class Scratch {
        let path = NSTemporaryDirectory() + "split-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        func split(_ bytes: [UInt8], block: String = "mem") throws(MigrationStreamError) -> PrecopyStreamSplitter.Result {
            let input = path + "/stream", memory = path + "/guest.mem"
            try? FileManager.default.removeItem(atPath: memory)
            FileManager.default.createFile(atPath: input, contents: Data(bytes))
            let fd = open(input, O_RDONLY)
            defer { close(fd) }
            var reader = MigrationStreamReader(descriptor: fd, bufferSize: 5000)   // smaller than a page record
            return try PrecopyStreamSplitter(sharedBlock: block, memoryPath: memory).split(&reader)
        }
    }

    @Test("the memory image holds the last copy of each page; the device state is x-ignore-shared's")
    func splitsAStream() throws {
        let scratch = try Scratch()
        let result = try scratch.split(Self.sample().bytes)
        #expect(result.deviceState == Self.expectedDeviceState())
        #expect(result.pageRecords == 9)
        let image = try #require(FileManager.default.contents(atPath: scratch.path + "/guest.mem"))
        #expect(image.count == Self.memSize)
        var expected = [UInt8](repeating: 0, count: Self.memSize)
        for (index, fill) in [(2, 0x22), (3, 0x03), (5, 0x07)] as [(Int, UInt8)] {
            expected.replaceSubrange(index * Self.pageSize..<(index + 1) * Self.pageSize, with: repeatElement(fill, count: Self.pageSize))
        }
        #expect(Array(image) == expected)
        // Zero pages are holes, including page 0, which was written and then zeroed.
        let file = try FileDescriptor.open(scratch.path + "/guest.mem", .readOnly)
        defer { file.close() }
        #expect(try file.dataRanges().first?.lowerBound == Int64(2 * Self.pageSize))
    }

    @Test("a stream cut anywhere is refused")
    func truncated() throws {
        let scratch = try Scratch()
        let bytes = Self.sample().bytes
        let ramEnd = bytes.count - Self.devices.count
        // Every cut before the device state fails; stepping by 13 keeps the test quick while
        // still landing inside every kind of record.
        for cut in stride(from: 0, to: ramEnd, by: 13) {
            #expect(throws: MigrationStreamError.self, "cut at \(cut)") { _ = try scratch.split(Array(bytes[..<cut])) }
        }
    }

    @Test("features the splitter does not take apart are refused as unsupported, damage as malformed")
    func refusals() throws {
        let scratch = try Scratch()
        let good = Self.sample().bytes
        func refused(_ bytes: [UInt8], block: String = "mem", _ check: (MigrationStreamError) -> Bool) {
            do { _ = try scratch.split(bytes, block: block); Issue.record("accepted") } catch { #expect(check(error), "\(error)") }
        }
        func unsupported(_ e: MigrationStreamError) -> Bool { if case .unsupported = e { true } else { false } }
        func malformed(_ e: MigrationStreamError) -> Bool { if case .malformed = e { true } else { false } }

        var header = good; header[3] = 0x4e
        refused(header, malformed)
        refused(Self.sample(subsection: true).bytes, unsupported)      // a capability set on the source
        refused(Self.sample(device: "block").bytes, unsupported)       // another iterable device
        refused(Self.sample(extraFlags: 0x40).bytes, unsupported)      // XBZRLE
        refused(Self.sample(extraFlags: 0x100).bytes, unsupported)     // compressed pages
        refused(good, block: "pc.ram", unsupported)                    // no block by the shared name
        refused(Self.sample(footerID: 9).bytes, malformed)             // a footer of another section
        // A page beyond its block.
        var beyond = Self.sample()
        beyond.bytes.removeLast(Self.devices.count + 8 + 5)
        beyond.page(nil, 16, fill: 1)
        beyond.endSection()
        beyond.bytes += Self.devices
        refused(beyond.bytes, malformed)
    }
}

