import Foundation
import Testing
@testable import StasisExt4

/// Invariants checked: whatever the input file, the API throws `Ext4Error` instead of crashing or
/// returning wrong data, and the error names the image file and what failed:
/// - a missing file, a directory, an empty file and random bytes are refused at `open`, the random
///   bytes as "not an ext4 file system (bad magic)";
/// - an image truncated anywhere (even by one byte) is refused at `open`, as `.truncated` once the
///   superblock is intact; once the group descriptors are too, the error says how many blocks the
///   file holds and how many the file system needs;
/// - crafted metadata (an extent pointing past the end of the file system, a broken extent header,
///   a directory entry with an impossible inode number, a checksum mismatch) gives a `.corrupt`
///   error naming the path or inode concerned;
/// - API misuse (reading a directory's bytes, a file larger than `maxBytes`) is refused.
@Suite("Ext4Error")
struct Ext4ErrorTests {
    @Test("files that are not ext4 images")
    func notImages() throws {
        let fixture = try Ext4Fixture("errors")
        let missing = fixture.path("missing.img")
        let noFile = try error { _ = try Ext4Image.open(path: missing) }
        #expect(noFile.cause == .system && noFile.operation == .open)
        #expect("\(noFile)".contains("'\(missing)'") && "\(noFile)".contains("No such file"))

        let random = fixture.path("random.img")
        _ = FileManager.default.createFile(atPath: random, contents: Data(Ext4Fixture.pseudoRandom(count: 1 << 20, seed: 7)))
        let badMagic = try error { _ = try Ext4Image.open(path: random) }
        #expect(badMagic.cause == .notExt4)
        #expect("\(badMagic)".hasPrefix("'\(random)' is not an ext4 file system (bad magic): "))

        let empty = fixture.path("empty.img")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let emptyError = try error { _ = try Ext4Image.open(path: empty) }
        #expect("\(emptyError)".contains(empty))

        #expect(throws: Ext4Error.self) { _ = try Ext4Image.open(path: fixture.directory) }
    }

    @Test("truncated images are refused at open")
    func truncated() throws {
        let fixture = try Ext4Fixture("truncated")
        let (imagePath, _, _) = try fixture.baseImage()
        let full = try Ext4Fixture.readBytes(imagePath)
        #expect(try Ext4Image.open(path: imagePath).walk().count > 2)
        for cut in [0, 512, 1024, 2047, 2048, 4096, 8192, 65_536, 1 << 20, full.count / 2, full.count - 1] {
            let truncated = fixture.path("cut-\(cut).img")
            _ = FileManager.default.createFile(atPath: truncated, contents: Data(full[..<cut]))
            let failure = try error { _ = try Ext4Image.open(path: truncated).walk() }
            #expect(failure.operation == .open, "cut at \(cut)")
            #expect("\(failure)".contains(truncated))
            if cut >= 2048 { #expect(failure.cause == .truncated, "cut at \(cut)") }
            if cut >= 8192 {  // superblock and group descriptors intact: the length check speaks
                #expect("\(failure)".contains("is truncated: it holds \(cut / 4096) blocks of 4096 bytes but its superblock describes 4096"))
            }
        }
    }

    @Test("crafted metadata is reported as corruption")
    func craftedMetadata() throws {
        let fixture = try Ext4Fixture("crafted")
        let (imagePath, _, _) = try fixture.baseImage()

        let pastEnd = fixture.path("past-end.img")
        try FileManager.default.copyItem(atPath: imagePath, toPath: pastEnd)
        // i_block[5] is the first extent's start block: point it past the end of the file system.
        try fixture.debugfs(pastEnd, ["sif /grow.txt block[5] 0xFFFFFF"])
        let mapping = try error { _ = try Ext4Image.open(path: pastEnd).walk() }
        #expect(mapping.cause == .corrupt)
        if case .mapBlocks(let path, _) = mapping.operation { #expect(path == "/grow.txt") } else {
            Issue.record("unexpected operation \(mapping.operation)")
        }
        #expect("\(mapping)".contains("'/grow.txt'") && "\(mapping)".contains(pastEnd))

        let badHeader = fixture.path("bad-header.img")
        try FileManager.default.copyItem(atPath: imagePath, toPath: badHeader)
        try fixture.debugfs(badHeader, ["sif /run.sh block[0] 0"])  // extent header magic gone
        let header = try error { _ = try Ext4Image.open(path: badHeader).walk() }
        #expect(header.cause == .corrupt && "\(header)".contains("'/run.sh'"))
        #expect("\(header)".contains("Corrupt extent header"))

        // A free inode behind a name (fsck would complain) is listed, not fatal.
        let freeInode = fixture.path("free-inode.img")
        try FileManager.default.copyItem(atPath: imagePath, toPath: freeInode)
        try fixture.debugfs(freeInode, ["ln <4000> /ghost"])
        let ghost = try Ext4Image.open(path: freeInode).walk().first { $0.path == "/ghost" }
        #expect(ghost?.kind == .other && ghost?.inode == 4000)
    }

    @Test("a directory entry with an impossible inode number; a directory checksum mismatch")
    func rawDirectoryDamage() throws {
        for checksums in [false, true] {
            let fixture = try Ext4Fixture("rawdir")
            let (imagePath, _, _) = try fixture.baseImage(options: checksums ? [] : ["-O", "^metadata_csum"])
            // Find "grow.txt" in the root directory's block and overwrite its 4-byte inode field,
            // which precedes rec_len (2), name_len (1) and file_type (1).
            var raw = try Ext4Fixture.readBytes(imagePath)
            let name = Array("grow.txt".utf8)
            let position = try #require(Self.find(name, in: raw, preceded: UInt8(name.count)))
            raw.replaceSubrange(position - 8..<position - 4, with: [0xFF, 0xFF, 0xFF, 0x7F])
            try Data(raw).write(to: URL(fileURLWithPath: imagePath))

            let damage = try error { _ = try Ext4Image.open(path: imagePath).walk() }
            #expect(damage.cause == .corrupt, "checksums: \(checksums): \(damage)")
            if checksums {
                if case .listDirectory(let path, _) = damage.operation { #expect(path == "/") } else {
                    Issue.record("unexpected operation \(damage.operation)")
                }
            } else {
                #expect(damage.operation == .readInode(0x7FFF_FFFF))
                #expect("\(damage)".contains("cannot read inode 2147483647 of '\(imagePath)'"))
            }
        }
    }

    @Test("API misuse is refused")
    func misuse() throws {
        let fixture = try Ext4Fixture("misuse")
        let (imagePath, _, _) = try fixture.baseImage()
        let image = try Ext4Image.open(path: imagePath)
        let entries = try image.walk()
        let dir = try #require(entries.first { $0.path == "/dir" })
        let notFile = try error { _ = try image.read(dir) }
        #expect(notFile.cause == .invalidRequest && "\(notFile)".contains("'/dir'"))
        let big = try #require(entries.first { $0.path == "/dir/big.bin" })
        let tooBig = try error { _ = try image.read(big, maxBytes: 1000) }
        #expect(tooBig.cause == .limitExceeded && "\(tooBig)".contains("forEachChunk"))
    }

    // MARK: - Helpers

    /// Runs `body`, which must throw an `Ext4Error`, and returns that error.
    private func error(_ body: () throws -> Void) throws -> Ext4Error {
        do {
            try body()
        } catch let error as Ext4Error {
            return error
        }
        Issue.record("expected an Ext4Error")
        throw Ext4Fixture.ToolFailure(description: "no error")
    }

    /// Offset of `name` in `bytes` where the byte 2 before it (name_len) equals `length`.
    private static func find(_ name: [UInt8], in bytes: [UInt8], preceded length: UInt8) -> Int? {
        var i = 8
        while i + name.count <= bytes.count {
            if bytes[i] == name[0], bytes[i - 2] == length, Array(bytes[i..<i + name.count]) == name { return i }
            i += 1
        }
        return nil
    }
}
