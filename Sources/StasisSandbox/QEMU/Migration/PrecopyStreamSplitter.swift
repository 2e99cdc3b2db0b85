/// Takes apart the stream of a live (pre-copy) migration of a running guest — RAM included —
/// into the two files a checkpoint keeps:
/// - the guest's memory image, from the pages of the memory-backend's RAM block (each page
///   possibly sent several times while the guest ran; the last copy is the one at the stop);
/// - a device-state stream in the form QEMU writes with `x-ignore-shared` (no pages of the
///   shared block), which is what every restore loads next to the memory file.
///
/// The layout is QEMU's (`migration/savevm.c`, `migration/ram.c`, stream version 3): a header,
/// a configuration section, then `START`/`PART`/`END` sections of the iterable `ram` device whose
/// records are `be64(page address | flags)`, the RAM block's name unless `CONTINUE` is set, then
/// a fill byte (`ZERO`) or a whole page (`PAGE`); after the last `END`, the non-iterable devices,
/// which are copied unchanged. Anything else — another iterable device, a capability that
/// changes the records (compression, XBZRLE, multifd), a configuration subsection — is refused as
/// unsupported, before QEMU has stopped the guest for good, so the caller can fall back.
struct PrecopyStreamSplitter {
    enum Section {
        static let eof: UInt8 = 0x00, start: UInt8 = 0x01, part: UInt8 = 0x02, end: UInt8 = 0x03
        static let full: UInt8 = 0x04, subsection: UInt8 = 0x05, configuration: UInt8 = 0x07, footer: UInt8 = 0x7e
    }
    enum RAMFlag {
        static let zero: UInt64 = 0x02, memSize: UInt64 = 0x04, page: UInt64 = 0x08, endOfSection: UInt64 = 0x10, `continue`: UInt64 = 0x20
        static let known: UInt64 = zero | memSize | page | endOfSection | `continue`
    }
    static let header: [UInt8] = Array("QEVM".utf8) + [0, 0, 0, 3]
    static let ramVersion: UInt32 = 4

    /// The RAM block backed by the shared memory file (the memory-backend object's id).
    let sharedBlock: String
    let memoryPath: String

    struct Result {
        /// The device-state stream, as `x-ignore-shared` would have written it.
        var deviceState: [UInt8]
        /// Page records read (a page sent twice counts twice).
        var pageRecords: Int
        var memoryPagesWritten: Int
    }

    private struct Block { var name: String; var length: UInt64 }

    func split(_ reader: inout MigrationStreamReader) throws(MigrationStreamError) -> Result {
        var out = [UInt8]()
        guard try reader.bytes(8, "the stream header") == Self.header else {
            throw .malformed(offset: 0, "not a version-3 QEMU migration stream")
        }
        out += Self.header
        if try reader.peek("the first section") == Section.configuration {
            _ = try reader.byte("the configuration section")
            let machine = try reader.bytes(Int(try reader.be32("the machine name length")), "the machine name")
            if try reader.peek("the configuration") == Section.subsection {
                throw .unsupported(offset: reader.offset, "a configuration subsection (a capability is set on the source)")
            }
            out += [Section.configuration] + Self.be32(UInt32(machine.count)) + machine
            // The one capability a restore sets, listed as QEMU lists it.
            let name = Array("configuration/capabilities".utf8), capability = Array("x-ignore-shared".utf8)
            out += [Section.subsection, UInt8(name.count)] + name + Self.be32(1) + Self.be32(1) + [UInt8(capability.count)] + capability
        }

        var ram: (id: UInt32, instance: UInt32)?
        var blocks: [Block] = []
        var memory: MemoryImageWriter?
        var otherPages: [String: [UInt64: [UInt8]]] = [:]
        var block: String?
        var records = 0
        var footers: Bool?
        sections: while true {
            let at = reader.offset
            let kind = try reader.byte("a section type")
            switch kind {
            case Section.start, Section.part, Section.end:
                let id = try reader.be32("a section id")
                if kind == Section.start {
                    let device = try reader.name("a section name")
                    let instance = try reader.be32("an instance id"), version = try reader.be32("a section version")
                    guard device == "ram", ram == nil else { throw .unsupported(offset: at, "iterable device '\(device)'") }
                    guard version == Self.ramVersion else { throw .unsupported(offset: at, "ram section version \(version)") }
                    ram = (id, instance)
                }
                guard let ram, ram.id == id else { throw .malformed(offset: at, "section \(id) was never started") }
                records: while true {
                    let recordAt = reader.offset
                    let word = try reader.be64("a RAM record")
                    let flags = word & UInt64(MemoryImageWriter.pageSize - 1), address = word & ~UInt64(MemoryImageWriter.pageSize - 1)
                    guard flags & ~RAMFlag.known == 0 else { throw .unsupported(offset: recordAt, "RAM record flags 0x\(String(flags, radix: 16))") }
                    if flags & RAMFlag.endOfSection != 0 { break records }
                    if flags & RAMFlag.memSize != 0 {
                        guard blocks.isEmpty else { throw .malformed(offset: recordAt, "a second RAM block list") }
                        var left = address
                        while left > 0 {
                            let name = try reader.name("a RAM block name"), length = try reader.be64("a RAM block length")
                            guard length <= left else { throw .malformed(offset: reader.offset, "RAM blocks longer than their total") }
                            blocks.append(Block(name: name, length: length))
                            left -= length
                        }
                        guard let shared = blocks.first(where: { $0.name == sharedBlock }) else {
                            throw .unsupported(offset: recordAt, "no RAM block named '\(sharedBlock)'")
                        }
                        memory = try MemoryImageWriter(path: memoryPath, size: Int64(shared.length))
                        continue
                    }
                    if flags & RAMFlag.continue == 0 { block = try reader.name("a RAM block name") }
                    guard let name = block, let length = blocks.first(where: { $0.name == name })?.length else {
                        throw .malformed(offset: recordAt, "a page of an unknown RAM block")
                    }
                    guard address + UInt64(MemoryImageWriter.pageSize) <= length else {
                        throw .malformed(offset: recordAt, "page 0x\(String(address, radix: 16)) beyond RAM block '\(name)'")
                    }
                    records += 1
                    switch flags & (RAMFlag.zero | RAMFlag.page) {
                    case RAMFlag.zero:
                        let fill = try reader.byte("a zero page's fill byte")
                        if name == sharedBlock, fill == 0 {
                            try memory!.zeroPage(at: Int64(address))
                        } else if name == sharedBlock {
                            try memory!.page(repeatElement(fill, count: MemoryImageWriter.pageSize), at: Int64(address))
                        } else {
                            otherPages[name, default: [:]][address] = [UInt8](repeating: fill, count: MemoryImageWriter.pageSize)
                        }
                    case RAMFlag.page:
                        if name == sharedBlock {
                            try reader.withBytes(MemoryImageWriter.pageSize, "a page") { raw throws(MigrationStreamError) in
                                try memory!.page(raw, at: Int64(address))
                            }
                        } else {
                            otherPages[name, default: [:]][address] = try reader.bytes(MemoryImageWriter.pageSize, "a page")
                        }
                    default:
                        throw .malformed(offset: recordAt, "RAM record flags 0x\(String(flags, radix: 16))")
                    }
                }
                // Section footers are a property of the machine type: all or none.
                let hasFooter = try reader.peek("a section footer") == Section.footer
                guard footers == nil || footers == hasFooter else { throw .malformed(offset: reader.offset, "a section without its footer") }
                footers = hasFooter
                if hasFooter {
                    _ = try reader.byte("a section footer")
                    guard try reader.be32("a footer's section id") == id else { throw .malformed(offset: reader.offset, "a footer of another section") }
                }
                if kind == Section.end { break sections }
            case Section.full, Section.eof:
                throw .unsupported(offset: at, "device state before the end of RAM")
            default:
                throw .unsupported(offset: at, "section type 0x\(String(kind, radix: 16))")
            }
        }
        guard let ram, let memory else { throw .malformed(offset: reader.offset, "no RAM block list") }
        try memory.finish()

        // RAM as x-ignore-shared sends it: the block list with each block's guest address
        // (checked by the destination for shared blocks only; the memory backend's is 0 on
        // microvm), then only the pages of the blocks that are not shared.
        func footer() -> [UInt8] { footers == true ? [Section.footer] + Self.be32(ram.id) : [] }
        out += [Section.start] + Self.be32(ram.id) + [3] + Array("ram".utf8) + Self.be32(ram.instance) + Self.be32(Self.ramVersion)
        out += Self.be64(blocks.reduce(0) { $0 + $1.length } | RAMFlag.memSize)
        for block in blocks {
            out += [UInt8(block.name.utf8.count)] + Array(block.name.utf8) + Self.be64(block.length) + Self.be64(0)
        }
        out += Self.be64(RAMFlag.endOfSection) + footer()
        out += [Section.end] + Self.be32(ram.id)
        for block in blocks where block.name != sharedBlock {
            for (address, page) in (otherPages[block.name] ?? [:]).sorted(by: { $0.key < $1.key }) {
                let name = [UInt8(block.name.utf8.count)] + Array(block.name.utf8)
                if let fill = page.first, page.allSatisfy({ $0 == fill }) {
                    out += Self.be64(address | RAMFlag.zero) + name + [fill]
                } else {
                    out += Self.be64(address | RAMFlag.page) + name + page
                }
            }
        }
        out += Self.be64(RAMFlag.endOfSection) + footer()
        // The non-iterable devices, the end marker and QEMU's JSON description: as they came.
        out += try reader.remainder()
        return Result(deviceState: out, pageRecords: records, memoryPagesWritten: memory.pagesWritten)
    }

    static func be32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }
    static func be64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) } }
}
