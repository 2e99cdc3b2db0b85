import Foundation
import Testing
@testable import StasisExt4

/// Invariants checked by `Ext4Diff.compare`:
/// - On an image changed in place (debugfs edits plus a raw overwrite of one data block), with
///   `changedBlocks` computed by comparing the two image files 4 KiB block by block, the result is
///   exactly the paths added, removed and modified, each with exactly the expected changes: a
///   same-size, same-metadata data change is found through the blocks alone; hard links report
///   together; directories are reported for owner changes but not for the mtime/size churn of
///   their entries; unchanged files are never reported.
/// - On two images built independently from a tree and a modified copy (blocks move), compare
///   over-reports content changes, and `dropUnchangedContent` brings the result back to exactly
///   the real changes by comparing bytes.
/// - Pure rules: paths match byte-wise (NFC and NFD names stay distinct, also for `==`), a kind
///   change is reported alone, a directory's size/mtime churn is not a change, either side's
///   blocks can reveal a content change, lists are sorted by path bytes, and the result
///   round-trips through JSON.
@Suite("Ext4Diff")
struct Ext4DiffTests {
    @Test("in-place edits give exactly the expected diff")
    func inPlaceEdits() throws {
        let fixture = try Ext4Fixture("diff-inplace")
        let (imageA, _, _) = try fixture.baseImage()
        let imageB = fixture.path("b.img")
        try FileManager.default.copyItem(atPath: imageA, toPath: imageB)
        let entriesA = try Ext4Image.open(path: imageA).walk()

        let added = fixture.path("added.txt")
        try Ext4Fixture.writeFile(added, Array("a new file\n".utf8), mode: 0o644, mtime: Ext4Fixture.baseTime)
        let grown = fixture.path("grown.txt")
        try Ext4Fixture.writeFile(grown, Array(repeating: 0x67, count: 10_000), mode: 0o644, mtime: Ext4Fixture.baseTime)
        try fixture.debugfs(imageB, [
            "rm /dir/nested/deep.txt",
            "write \(added) /added.txt",
            "rm /grow.txt",
            "write \(grown) /grow.txt",
            "sif /hello.txt mode 0100600",
            "sif /run.sh mtime @1500000000",
            "sif /dir/nested uid 1000",
            "rm /link",
            "symlink /link dir/big.bin",
        ])
        // Change one byte of big.bin's 101st block behind libext2fs' back: same size, same mtime.
        let big = try #require(entriesA.first { $0.path == "/dir/big.bin" })
        let logical: UInt64 = 100
        var physical: UInt64?
        var seen: UInt64 = 0
        for range in big.blocks {
            if logical < seen + UInt64(range.count) { physical = range.lowerBound + (logical - seen); break }
            seen += UInt64(range.count)
        }
        let target = try #require(physical)
        let original = Ext4Fixture.bigFile[Int(logical) * 4096 + 17]
        try Ext4Fixture.patch(imageB, at: target * 4096 + 17, with: [original ^ 0xFF])

        let image2 = try Ext4Image.open(path: imageB)
        let entriesB = try image2.walk()
        let changed = try Ext4Fixture.changedBlocks(imageA, imageB)
        let result = Ext4Diff.compare(entriesA, entriesB) { range in range.contains { changed.contains($0) } }

        #expect(result.added.map(\.path) == ["/added.txt"])
        #expect(result.removed.map(\.path) == ["/dir/nested/deep.txt"])
        #expect(result.added.first?.kindAfter == .file && result.added.first?.sizeBefore == nil)
        #expect(result.removed.first?.sizeBefore == 5 && result.removed.first?.kindAfter == nil)
        let modified = Dictionary(uniqueKeysWithValues: result.modified.map { ($0.path, $0.changes) })
        #expect(result.modified.map(\.path) == [
            "/dir/big.bin", "/dir/nested", "/grow.txt", "/hardlink.txt", "/hello.txt", "/link", "/run.sh",
        ])
        #expect(modified["/dir/big.bin"] == [.content])
        #expect(modified["/dir/nested"] == [.owner])
        #expect(modified["/hello.txt"] == [.mode])
        #expect(modified["/hardlink.txt"] == [.mode])
        #expect(modified["/run.sh"] == [.mtime])
        #expect(modified["/grow.txt"].map { $0.contains(.size) && $0.contains(.content) } == true)
        #expect(modified["/link"]?.contains(.linkTarget) == true)
        let grow = try #require(result.modified.first { $0.path == "/grow.txt" })
        #expect(grow.sizeBefore == 6 && grow.sizeAfter == 10_000)

        // The patched byte is visible through libext2fs, and only there.
        let bigB = try #require(entriesB.first { $0.path == "/dir/big.bin" })
        var expectedBig = Ext4Fixture.bigFile
        expectedBig[Int(logical) * 4096 + 17] ^= 0xFF
        #expect(try image2.read(bigB) == expectedBig)
        // Byte comparison confirms every content change here (none is a false positive).
        let refined = try Ext4Diff.dropUnchangedContent(result, before: Ext4Image.open(path: imageA), after: image2)
        #expect(refined == result)
    }

    @Test("independently built images: compare, then drop unchanged content")
    func rebuiltImages() throws {
        let fixture = try Ext4Fixture("diff-rebuilt")
        let (imageA, sourceA, _) = try fixture.baseImage()
        let sourceB = fixture.path("b-src")
        try fixture.run("cp", ["-a", sourceA, sourceB])
        let t = Ext4Fixture.baseTime
        // Same size, same mtime, other bytes (the hard link /hardlink.txt changes with it).
        try Ext4Fixture.overwrite(sourceB + "/hello.txt", Array("HELLO, WORLD\n".utf8), mtime: t + 1)
        try Ext4Fixture.overwrite(sourceB + "/grow.txt", Array("now longer\n".utf8), mtime: t + 4)
        try FileManager.default.removeItem(atPath: sourceB + "/dir/nested/deep.txt")
        try Ext4Fixture.writeFile(sourceB + "/dir/new.txt", Array("new\n".utf8), mode: 0o644, mtime: t + 20)
        let imageB = fixture.path("b.img")
        try fixture.mkfs(source: sourceB, image: imageB)

        let a = try Ext4Image.open(path: imageA), b = try Ext4Image.open(path: imageB)
        let changed = try Ext4Fixture.changedBlocks(imageA, imageB)
        let coarse = Ext4Diff.compare(try a.walk(), try b.walk()) { range in range.contains { changed.contains($0) } }
        let result = try Ext4Diff.dropUnchangedContent(coarse, before: a, after: b)

        #expect(result.added.map(\.path) == ["/dir/new.txt"])
        #expect(result.removed.map(\.path) == ["/dir/nested/deep.txt"])
        #expect(result.modified.map(\.path) == ["/grow.txt", "/hardlink.txt", "/hello.txt"])
        #expect(result.modified.first { $0.path == "/hello.txt" }?.changes == [.content])
        #expect(result.modified.first { $0.path == "/hardlink.txt" }?.changes == [.content])
        #expect(result.modified.first { $0.path == "/grow.txt" }?.changes.contains(.size) == true)
        // Whatever compare over-reported was a content-only suspicion that bytes disproved.
        for extra in coarse.modified where !result.modified.map(\.path).contains(extra.path) {
            #expect(extra.changes == [.content], "\(extra.path)")
        }
    }

    @Test("comparison rules on hand-made listings")
    func rules() throws {
        func entry(_ path: String, _ kind: Ext4Entry.Kind = .file, size: UInt64 = 10, mode: UInt16 = 0o100644,
                   mtime: Int64 = 100, blocks: [Range<UInt64>] = [], target: String? = nil) -> Ext4Entry {
            Ext4Entry(path: path, inode: 12, kind: kind, size: size, mode: mode, mtime: mtime, blocks: blocks,
                      linkTarget: target)
        }
        let nfc = "/caf\u{E9}", nfd = "/cafe\u{301}"
        let a = [
            entry("/d", .directory, size: 4096, mode: 0o40755, mtime: 1),
            entry("/k"),
            entry("/movedFrom", blocks: [10..<12]),
            entry("/movedTo", blocks: [20..<22]),
            entry("/same", blocks: [30..<31]),
            entry("/s", .symlink, size: 1, mode: 0o120777, target: "x"),
            entry(nfc),
        ]
        let b = [
            entry("/d", .directory, size: 8192, mode: 0o40755, mtime: 2),
            entry("/k", .directory, size: 4096, mode: 0o40755),
            entry("/movedFrom", blocks: [40..<42]),
            entry("/movedTo", blocks: [50..<52]),
            entry("/same", blocks: [30..<31]),
            entry("/s", .symlink, size: 1, mode: 0o120777, target: "y"),
            entry(nfd),
        ]
        // Blocks 10 (only in A) and 51 (only in B) changed.
        let result = Ext4Diff.compare(a, b) { $0.contains(10) || $0.contains(51) }
        #expect(result.added.map(\.path) == [nfd])
        #expect(result.removed.map(\.path) == [nfc])
        #expect(result.modified.map(\.path) == ["/k", "/movedFrom", "/movedTo", "/s"])
        #expect(result.modified.map(\.changes) == [[.kind], [.content], [.content], [.linkTarget]])
        #expect(Ext4Diff.compare(a, a) { _ in false }.isEmpty)

        let json = try JSONEncoder().encode(result)
        #expect(try JSONDecoder().decode(Ext4DiffResult.self, from: json) == result)
        let entryJSON = try JSONEncoder().encode(a[2])
        #expect(try JSONDecoder().decode(Ext4Entry.self, from: entryJSON) == a[2])
        // Equality is byte-wise too: Unicode-equivalent spellings are different entries.
        #expect(entry(nfc) != entry(nfd) && nfc == nfd)
    }
}
