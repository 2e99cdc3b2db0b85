import Foundation
import StasisStoreTestSupport
import Testing

/// A real full disk: a small tmpfs mounted for the test (needs root, as CI has).
/// Invariants checked: a capture that runs out of space fails with a message that names the file
/// and says to free space; the store keeps every committed image readable and `verify` clean;
/// `gc` removes what the failed capture wrote; a materialize onto a full disk writes nothing.
@Suite("Full disk (tmpfs)", .enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
struct FullDiskTests {
    final class Mount {
        let path: String
        let mounted: Bool
        init(size: String) {
            path = NSTemporaryDirectory() + "stasis-full-" + UUID().uuidString.prefix(8)
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/mount")
            p.arguments = ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path]
            try? p.run()
            p.waitUntilExit()
            mounted = p.terminationStatus == 0
        }
        deinit {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/umount")
            p.arguments = [path]
            try? p.run()
            p.waitUntilExit()
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    @Test("capture and materialize on a full file system")
    func fullDisk() throws {
        let disk = Mount(size: "12m")
        try #require(disk.mounted, "could not mount a tmpfs at \(disk.path)")
        let work = Scratch()
        let store = disk.path + "/store"
        #expect(try StasisProcess.run(["init", "--store", store]).status == 0)
        let small = ImageBytes.make(pages: 300, seed: 1)
        ImageBytes.write(small, to: work.file("small"))
        let id = try StasisProcess.run(["image", "capture", work.file("small"), "--store", store]).stdout.trimmingCharacters(in: .newlines)

        // 24 MiB of incompressible bytes: cannot fit in what is left of 12 MiB.
        var generator = SystemRandomNumberGenerator()
        ImageBytes.write((0..<(3 << 20)).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64) { Array($0) } }, to: work.file("big"))
        let full = try StasisProcess.run(["image", "capture", work.file("big"), "--store", store, "--pack-size", "1M"])
        #expect(full.status == 1)
        #expect(full.stderr.contains("No space left on device") && full.stderr.contains("free space"), "\(full.stderr)")
        #expect(full.stderr.contains(store), "the message names the file it could not write: \(full.stderr)")

        #expect(try StasisProcess.run(["verify", "--deep", "--store", store]).status == 0)
        #expect(try StasisProcess.run(["gc", "--store", store]).status == 0)
        #expect((try StasisProcess.run(["verify", "--store", store, "--json"]).json?["leftoverFiles"] as? Int) == 0)
        #expect(try StasisProcess.run(["image", "materialize", id, work.file("out"), "--store", store]).status == 0)
        #expect(ImageBytes.read(work.file("out")) == small)

        // A store on a full file system still opens for reading, with a message that says why
        // it cannot be written.
        if let filler = FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: disk.path + "/filler", contents: nil); return disk.path + "/filler" }()) {
            let block = Data(repeating: 7, count: 64 << 10)
            while (try? filler.write(contentsOf: block)) != nil {}
            try? filler.close()
        }
        let onFull = try StasisProcess.run(["image", "capture", work.file("small"), "--store", store])
        if TestStores.engine == .postgres {
            // A fleet store: the image is there already, so nothing needs this host's disk.
            #expect(onFull.status == 0, "\(onFull.stderr)")
        } else {
            #expect(onFull.status == 1 && onFull.stderr.contains("space"), "\(onFull.stderr)")
        }
        try? FileManager.default.removeItem(atPath: disk.path + "/filler")

        // Materialize onto a file system too small for the image: refused, nothing written.
        let tiny = Mount(size: "256k")
        try #require(tiny.mounted)
        let out = try StasisProcess.run(["image", "materialize", id, tiny.path + "/out", "--store", store])
        #expect(out.status == 1)
        #expect(out.stderr.contains("space"), "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: tiny.path + "/out"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: tiny.path)
        #expect(leftovers.isEmpty)
    }
}
