import Foundation
import Testing
@testable import StasisSessions

/// Invariants checked: a file read from a checkpoint's ext4 disk (made with mkfs.ext4 -d, never
/// mounted) is exactly the bytes written, with their SHA-256; `.` and `..` resolve inside the
/// image and a path that climbs out is refused; a missing path, a directory, a symbolic link, a
/// disk that is not ext4, a checkpoint with several disks and no --disk, and an unknown disk
/// each get their own error naming the path or disk.
@Suite("checkpoint cat", .enabled(if: FileManager.default.isExecutableFile(atPath: "/sbin/mkfs.ext4") || FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.ext4")))
struct CheckpointFileTests {
    func mkfs(_ tree: String, _ image: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ["/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4"].first { FileManager.default.isExecutableFile(atPath: $0) }!)
        p.arguments = ["-q", "-F", "-d", tree, "-b", "4096", image, "16M"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    func read(_ t: TemporaryStore, _ c: String, _ path: String, disk: String? = nil) throws(CheckpointFileError) -> (CheckpointFile, [UInt8]) {
        var bytes: [UInt8] = []
        let f = try t.sessions.readFile(atCheckpoint: c, path: path, disk: disk) { bytes.append(contentsOf: $0) }
        return (f, bytes)
    }

    @Test("files as they were; bad paths and disks refused by name")
    func cat() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        let tree = t.file("tree")
        try FileManager.default.createDirectory(atPath: tree + "/etc", withIntermediateDirectories: true)
        var rng = Rng(state: 9)
        let big = rng.bytes(3 << 20 | 123)
        FileManager.default.createFile(atPath: tree + "/etc/hostname", contents: Data("sandbox\n".utf8))
        FileManager.default.createFile(atPath: tree + "/big.bin", contents: Data(big))
        try FileManager.default.createSymbolicLink(atPath: tree + "/conf", withDestinationPath: "etc")
        try mkfs(tree, t.file("root.img"))
        let one = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "disk:root", path: t.file("root.img"))])).id

        let (f, bytes) = try read(t, one, "/etc/./../etc/hostname")
        #expect(bytes == Array("sandbox\n".utf8) && f.path == "/etc/hostname" && f.disk == "root" && f.size == 8)
        #expect(f.sha256 == "ea7ec57fa66bf8ac9b1989bc11350cfd42213d5e3f2cd8b4d2155fc53f9ba1b3")
        #expect(try read(t, one, "/big.bin").1 == big)

        func failure(_ path: String, disk: String? = nil, on c: String? = nil) -> String {
            do { _ = try read(t, c ?? one, path, disk: disk); return "no error" } catch { return error.description }
        }
        #expect(failure("/../etc/hostname").contains("outside the image"))
        #expect(failure("etc/hostname").contains("absolute path"))
        #expect(failure("/etc/missing").contains("'/etc/missing' does not exist on disk root"))
        #expect(failure("/etc").contains("'/etc' on disk root") && failure("/etc").contains("directory"))
        #expect(failure("/conf").contains("symbolic link to 'etc'"))
        #expect(failure("/conf/hostname").contains("'/conf' is a symbolic link"))
        #expect(failure("/etc/hostname", disk: "data").contains("has no disk 'data'"))

        // Two disks, one of them not ext4.
        let two = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "disk:root", path: t.file("root.img")),
                                                                            .init(name: "disk:raw", path: t.write(rng.bytes(1 << 20), "raw.img"))])).id
        #expect(failure("/etc/hostname", on: two).contains("several disks") && failure("/etc/hostname", on: two).contains("raw, root"))
        #expect(try read(t, two, "/etc/hostname", disk: "root").1 == Array("sandbox\n".utf8))
        #expect(failure("/etc/hostname", disk: "raw", on: two).contains("disk raw of checkpoint \(two) is not an ext4 file system"))
        let memoryOnly = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: t.write(rng.bytes(8192), "mem"))])).id
        #expect(failure("/etc/hostname", on: memoryOnly).contains("holds no disk image"))
        #expect(failure("/x", on: "ffffffff").contains("no checkpoint"))
    }
}
