import Foundation
import Testing
@testable import StasisSessions

/// Invariants checked: `diff` counts exactly the changed pages of a memory image with their byte
/// ranges; on a real ext4 disk (made with mkfs.ext4 -d, changed in place with debugfs — never
/// mounted) it lists exactly the files added, removed and modified; a disk that is not ext4 gets
/// block counts and no file list; blob changes are named.
@Suite("Checkpoint diff", .enabled(if: FileManager.default.isExecutableFile(atPath: "/sbin/mkfs.ext4") || FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.ext4")))
struct DiffTests {
    func run(_ tool: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ["/sbin/" + tool, "/usr/sbin/" + tool].first { FileManager.default.isExecutableFile(atPath: $0) }!)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(tool) \(args)")
    }

    @Test("memory pages, ext4 files and blobs")
    func diff() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        let tree = t.file("tree")
        try FileManager.default.createDirectory(atPath: tree + "/etc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: tree + "/work", withIntermediateDirectories: true)
        var rng = Rng(state: 4)
        FileManager.default.createFile(atPath: tree + "/etc/hostname", contents: Data("sandbox\n".utf8))
        FileManager.default.createFile(atPath: tree + "/work/data.bin", contents: Data(rng.bytes(100_000)))
        FileManager.default.createFile(atPath: tree + "/work/old.txt", contents: Data("old\n".utf8))
        let disk = t.file("disk.img")
        try run("mkfs.ext4", ["-q", "-F", "-d", tree, "-b", "4096", disk, "16M"])
        var memory = rng.bytes(64 * 4096)
        let mem = t.write(memory, "mem")
        let a = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: mem), .init(name: "disk:root", path: disk)],
                                                                 blobs: [.init(name: "state", path: t.write([1], "st"))]))

        for p in [5, 6, 40] { for i in p * 4096..<(p + 1) * 4096 { memory[i] ^= 0xFF } }
        _ = t.write(memory, "mem")
        FileManager.default.createFile(atPath: t.file("new.txt"), contents: Data("new\n".utf8))
        FileManager.default.createFile(atPath: t.file("data2.bin"), contents: Data(rng.bytes(100_000)))
        try run("debugfs", ["-w", "-R", "write \(t.file("new.txt")) /etc/new.txt", disk])
        try run("debugfs", ["-w", "-R", "rm /work/old.txt", disk])
        try run("debugfs", ["-w", "-R", "rm /work/data.bin", disk])
        try run("debugfs", ["-w", "-R", "write \(t.file("data2.bin")) /work/data.bin", disk])
        let b = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: mem), .init(name: "disk:root", path: disk)],
                                                                 blobs: [.init(name: "state", path: t.write([2], "st"))]))

        let d = try t.sessions.diff(a.id, b.id)
        let m = try #require(d.images.first { $0.name == "memory" })
        #expect(m.changedChunks == 3 && m.changedBytes == 3 * 4096)
        let expectedRanges: [ImageDiff.ByteRange] = [.init(offset: 20480, length: 8192), .init(offset: 163_840, length: 4096)]
        #expect(m.ranges == expectedRanges)
        let files = try #require(d.images.first { $0.name == "disk:root" }?.files)
        #expect(files.added.map(\.path) == ["/etc/new.txt"])
        #expect(files.removed.map(\.path) == ["/work/old.txt"])
        #expect(files.modified.map(\.path).contains("/work/data.bin"))
        #expect(!files.modified.map(\.path).contains("/etc/hostname"))
        #expect(d.changedBlobs == ["state"])
        #expect(try t.sessions.diff(a.id, a.id).images.allSatisfy { $0.changedChunks == 0 })
        #expect(m.files == nil)
    }
}
