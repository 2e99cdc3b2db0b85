import Foundation
import Testing
@testable import StasisExt4

/// Invariants checked on images built by `mkfs.ext4 -d` from a known tree (no mount):
/// - `walk()` lists exactly the tree plus "/" and "/lost+found": same paths (byte-exact, so the NFC
///   and NFD spellings of one name are two entries, and invalid UTF-8 becomes U+FFFD), kinds,
///   sizes, permission bits, mtimes and symlink targets; hard links share an inode; the list is
///   sorted by UTF-8 bytes.
/// - File content read through libext2fs is bit-exact, whole or streamed in odd-sized chunks,
///   holes reading as zeros; and the physical block ranges reported for a file, read straight
///   from the image file, hold exactly that file's bytes.
/// - Inline-data images (data inside the inode) are listed and read too, with no blocks.
/// - The walk ends on directory loops, decodes ext4's extended mtime epoch bits, and stops with a
///   limit error (not a partial list) past its depth, path-length and entry bounds.
@Suite("Ext4Image walk and read")
struct Ext4WalkTests {
    @Test("walk lists exactly the tree with its metadata")
    func walkListsTheTree() throws {
        let fixture = try Ext4Fixture("walk")
        let (imagePath, _, expected) = try fixture.baseImage()
        let image = try Ext4Image.open(path: imagePath)
        #expect(image.blockSize == 4096)
        #expect(image.blockCount == 4096)
        #expect(!image.needsRecovery)
        let entries = try image.walk()

        let paths = entries.map { Array($0.path.utf8) }
        #expect(paths == paths.sorted { $0.lexicographicallyPrecedes($1) }, "sorted by UTF-8 bytes")
        let wanted = (["/", "/lost+found"] + expected.map(\.path)).map { Array($0.utf8) }
        #expect(paths == wanted.sorted { $0.lexicographicallyPrecedes($1) })

        let byBytes = Dictionary(uniqueKeysWithValues: entries.map { (Array($0.path.utf8), $0) })
        for item in expected {
            let entry = try #require(byBytes[Array(item.path.utf8)], "\(item.path) listed")
            #expect(entry.kind.rawValue == item.kind, "\(item.path)")
            #expect(entry.size == item.size, "\(item.path)")
            #expect(entry.permissions == item.permissions, "\(item.path)")
            #expect(entry.linkTarget == item.linkTarget, "\(item.path)")
            if let mtime = item.mtime { #expect(entry.mtime == mtime, "\(item.path)") }
            #expect(entry.kind == .file || entry.blocks.isEmpty, "blocks only for files: \(item.path)")
        }
        let root = try #require(byBytes[Array("/".utf8)])
        #expect(root.kind == .directory && root.inode == Ext4Image.rootInode)
        #expect(byBytes[Array("/lost+found".utf8)]?.kind == .directory)
        let hello = try #require(byBytes[Array("/hello.txt".utf8)])
        let hardlink = try #require(byBytes[Array("/hardlink.txt".utf8)])
        #expect(hello.inode == hardlink.inode && hello.linkCount == 2)
        #expect(byBytes[Array("/empty".utf8)]?.blocks == [])
    }

    @Test("content is bit-exact and the block map points at it")
    func contentAndBlocks() throws {
        let fixture = try Ext4Fixture("read")
        let (imagePath, _, expected) = try fixture.baseImage()
        let image = try Ext4Image.open(path: imagePath)
        let entries = try image.walk()
        let byBytes = Dictionary(uniqueKeysWithValues: entries.map { (Array($0.path.utf8), $0) })
        let raw = try Ext4Fixture.readBytes(imagePath)

        for item in expected where item.kind == "file" {
            let entry = try #require(byBytes[Array(item.path.utf8)])
            let content = try #require(item.content)
            #expect(try image.read(entry) == content, "\(item.path) read whole")
            var streamed: [UInt8] = []
            var chunkSizes: [Int] = []
            try image.forEachChunk(of: entry, chunkSize: 3000) { chunk in
                streamed.append(contentsOf: chunk)
                chunkSizes.append(chunk.count)
            }
            #expect(streamed == content, "\(item.path) streamed")
            #expect(chunkSizes.dropLast().allSatisfy { $0 == 3000 }, "only the last chunk is short")
            // The data blocks, read directly from the image file, are the file's non-hole bytes.
            var fromBlocks: [UInt8] = []
            for range in entry.blocks {
                fromBlocks += raw[Int(range.lowerBound) * 4096..<Int(range.upperBound) * 4096]
            }
            let nonHole = item.path == "/dir/sparse.bin" ? Ext4Fixture.sparseTail : content
            #expect(Array(fromBlocks.prefix(nonHole.count)) == nonHole, "\(item.path) blocks")
            #expect(entry.blockCount == UInt64((nonHole.count + 4095) / 4096), "\(item.path) block count")
        }
        let big = try #require(byBytes[Array("/dir/big.bin".utf8)])
        #expect(big.blockCount == 256)
        #expect(big.blocks.count <= 2, "mkfs lays a 1 MiB file out contiguously: runs are merged")
        let sparse = try #require(byBytes[Array("/dir/sparse.bin".utf8)])
        #expect(sparse.blockCount == 1, "the hole has no blocks")
    }

    @Test("images with inline data")
    func inlineData() throws {
        let fixture = try Ext4Fixture("inline")
        let (imagePath, _, expected) = try fixture.baseImage(options: ["-O", "inline_data", "-I", "256"])
        let image = try Ext4Image.open(path: imagePath)
        let entries = try image.walk()
        let byBytes = Dictionary(uniqueKeysWithValues: entries.map { (Array($0.path.utf8), $0) })
        #expect(entries.count == expected.count + 2)
        for item in expected {
            let entry = try #require(byBytes[Array(item.path.utf8)], "\(item.path)")
            #expect(entry.size == item.size || item.kind == "directory", "\(item.path)")
            #expect(entry.linkTarget == item.linkTarget, "\(item.path)")
            if let content = item.content { #expect(try image.read(entry) == content, "\(item.path)") }
        }
        // Small files live in the inode: no data blocks.
        #expect(byBytes[Array("/hello.txt".utf8)]?.blocks == [])
        #expect(byBytes[Array("/dir/big.bin".utf8)]?.blockCount == 256)
    }

    @Test("a directory loop is listed once and not followed")
    func directoryLoop() throws {
        let fixture = try Ext4Fixture("loop")
        let (imagePath, _, expected) = try fixture.baseImage()
        try fixture.debugfs(imagePath, ["link /dir /dir/nested/loop", "link / /dir/emptydir/up"])
        let entries = try Ext4Image.open(path: imagePath).walk()
        #expect(entries.count == expected.count + 4)
        let dir = try #require(entries.first { $0.path == "/dir" })
        let loop = try #require(entries.first { $0.path == "/dir/nested/loop" })
        let up = try #require(entries.first { $0.path == "/dir/emptydir/up" })
        #expect(loop.kind == .directory && loop.inode == dir.inode)
        #expect(up.kind == .directory && up.inode == Ext4Image.rootInode)
        #expect(!entries.contains { $0.path.hasPrefix("/dir/nested/loop/") || $0.path.hasPrefix("/dir/emptydir/up/") })
    }

    @Test("mtime epoch bits and nanoseconds")
    func extendedTimestamps() throws {
        let fixture = try Ext4Fixture("mtime")
        let (imagePath, _, _) = try fixture.baseImage()
        // mtime first: debugfs resets the extra field when it sets mtime.
        try fixture.debugfs(imagePath, ["sif /run.sh mtime 0x10", "sif /run.sh mtime_extra 0x7d1"])
        let entries = try Ext4Image.open(path: imagePath).walk()
        let run = try #require(entries.first { $0.path == "/run.sh" })
        #expect(run.mtime == 0x10 + (1 << 32))
        #expect(run.mtimeNanoseconds == 500)
    }

    @Test("limits stop the walk with an error")
    func limits() throws {
        let fixture = try Ext4Fixture("limits")
        let (imagePath, _, expected) = try fixture.baseImage()
        let image = try Ext4Image.open(path: imagePath)
        #expect(try image.walk(limits: Ext4WalkLimits(maxDepth: 3)).count == expected.count + 2)
        for limits in [Ext4WalkLimits(maxDepth: 2), Ext4WalkLimits(maxPathBytes: 12),
                       Ext4WalkLimits(maxEntries: 5)] {
            #expect {
                _ = try image.walk(limits: limits)
            } throws: { error in
                guard let error = error as? Ext4Error else { return false }
                return error.cause == .limitExceeded && error.operation == .limit
                    && "\(error)".contains(imagePath)
            }
        }
    }

    @Test("name decoding")
    func names() {
        #expect(Ext4Image.decodeName(Array("plain".utf8)) == "plain")
        #expect(Array(Ext4Image.decodeName([0x61, 0xFF, 0x62]).utf8) == Array("a\u{FFFD}b".utf8))
        #expect(Ext4Image.decodeName([0x61, 0x2F, 0x62, 0x00]) == "a\u{FFFD}b\u{FFFD}")
        #expect(Ext4Image.decodeName([]) == "\u{FFFD}")
    }
}
