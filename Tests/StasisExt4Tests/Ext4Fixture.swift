import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Builds real ext4 images with e2fsprogs (`mkfs.ext4 -d` populates from a directory without
/// mounting; `debugfs -w` edits an image in place), in a private temporary directory.
final class Ext4Fixture {
    struct ToolFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// One entry the base tree is expected to produce (paths compared as UTF-8 bytes).
    struct Expected {
        var path: String
        var kind: String
        var size: UInt64
        var permissions: UInt16
        var mtime: Int64?
        var linkTarget: String?
        var content: [UInt8]?
    }

    /// Fixed modification times, so that nothing depends on the clock.
    static let baseTime = 1_600_000_000
    static let bigFile = pseudoRandom(count: 1 << 20, seed: 0x5eed)
    static let sparseTail = Array("tail!".utf8)
    static let longTarget = String(repeating: "../", count: 40) + "target"  // 126 bytes: a slow symlink
    static let nfcName = "caf\u{E9}.txt"
    static let nfdName = "cafe\u{301}.txt"

    let directory: String

    init(_ label: String) throws {
        directory = NSTemporaryDirectory() + "stasis-ext4-\(label)-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func path(_ name: String) -> String { directory + "/" + name }

    // MARK: - The base tree

    /// Creates the base tree under `root` and returns what a walk of its image must list, besides
    /// "/" and "/lost+found".
    @discardableResult
    static func makeBaseTree(at root: String) throws -> [Expected] {
        let fm = FileManager.default
        for dir in ["dir/nested", "dir/emptydir"] {
            try fm.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
        }
        let t = baseTime
        try writeFile(root + "/hello.txt", Array("hello, world\n".utf8), mode: 0o644, mtime: t + 1)
        try writeFile(root + "/empty", [], mode: 0o600, mtime: t + 2)
        try writeFile(root + "/run.sh", Array("#!/bin/sh\necho hi\n".utf8), mode: 0o755, mtime: t + 3)
        try writeFile(root + "/grow.txt", Array("short\n".utf8), mode: 0o644, mtime: t + 4)
        try writeFile(root + "/dir/big.bin", bigFile, mode: 0o644, mtime: t + 5)
        try writeSparse(root + "/dir/sparse.bin", holeBytes: 2 << 20, tail: sparseTail, mtime: t + 6)
        try writeFile(root + "/dir/nested/deep.txt", Array("deep\n".utf8), mode: 0o640, mtime: t + 7)
        guard link(root + "/hello.txt", root + "/hardlink.txt") == 0 else { throw ToolFailure(description: "link") }
        try makeSymlink(root + "/link", target: "dir/nested/deep.txt", mtime: t + 8)
        try makeSymlink(root + "/longlink", target: longTarget, mtime: t + 9)
        // Names that are not plain ASCII: two Unicode-equivalent spellings and invalid UTF-8.
        try writeRawName(root, Array(nfcName.utf8), content: Array("nfc\n".utf8), mtime: t + 10)
        try writeRawName(root, Array(nfdName.utf8), content: Array("nfd\n".utf8), mtime: t + 11)
        try writeRawName(root, Array("bad".utf8) + [0xFF] + Array("name".utf8), content: Array("bad\n".utf8),
                         mtime: t + 12)
        guard chmod(root + "/dir/emptydir", 0o700) == 0 else { throw ToolFailure(description: "chmod") }

        let hello = Array("hello, world\n".utf8)
        func file(_ p: String, _ c: [UInt8], _ mode: UInt16, _ m: Int) -> Expected {
            Expected(path: p, kind: "file", size: UInt64(c.count), permissions: mode, mtime: Int64(m), content: c)
        }
        return [
            file("/hello.txt", hello, 0o644, t + 1),
            file("/hardlink.txt", hello, 0o644, t + 1),
            file("/empty", [], 0o600, t + 2),
            file("/run.sh", Array("#!/bin/sh\necho hi\n".utf8), 0o755, t + 3),
            file("/grow.txt", Array("short\n".utf8), 0o644, t + 4),
            Expected(path: "/dir", kind: "directory", size: 4096, permissions: 0o755),
            file("/dir/big.bin", bigFile, 0o644, t + 5),
            file("/dir/sparse.bin", [UInt8](repeating: 0, count: 2 << 20) + sparseTail, 0o644, t + 6),
            Expected(path: "/dir/nested", kind: "directory", size: 4096, permissions: 0o755),
            file("/dir/nested/deep.txt", Array("deep\n".utf8), 0o640, t + 7),
            Expected(path: "/dir/emptydir", kind: "directory", size: 4096, permissions: 0o700),
            Expected(path: "/link", kind: "symlink", size: 19, permissions: 0o777, mtime: Int64(t + 8),
                     linkTarget: "dir/nested/deep.txt"),
            Expected(path: "/longlink", kind: "symlink", size: UInt64(longTarget.utf8.count), permissions: 0o777,
                     mtime: Int64(t + 9), linkTarget: longTarget),
            file("/" + nfcName, Array("nfc\n".utf8), 0o644, t + 10),
            file("/" + nfdName, Array("nfd\n".utf8), 0o644, t + 11),
            file("/bad\u{FFFD}name", Array("bad\n".utf8), 0o644, t + 12),
        ]
    }

    // MARK: - Tools

    static func tool(_ name: String) throws -> String {
        for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
            return dir + "/" + name
        }
        throw ToolFailure(description: "\(name) not found: install e2fsprogs")
    }

    /// Runs a tool; throws with its output when it exits non-zero. Returns stdout + stderr.
    @discardableResult
    func run(_ toolName: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.tool(toolName))
        process.arguments = arguments
        // Output goes to a file, not a pipe: no deadlock however much a tool prints.
        let log = path("tool-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: log)
        guard process.terminationStatus == 0 else {
            throw ToolFailure(description: "\(toolName) \(arguments.joined(separator: " ")) failed: \(output)")
        }
        return output
    }

    /// `mkfs.ext4 -q -F -d source -b 4096 image 16M` (plus `options`), with a fixed UUID and hash
    /// seed so that two builds of the same tree are alike.
    func mkfs(source: String, image: String, options: [String] = []) throws {
        try run("mkfs.ext4", ["-q", "-F", "-b", "4096", "-U", "6a1e3c6e-8f0e-4c54-9d51-4a2f6c1b2d3e",
                              "-E", "hash_seed=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"]
                + options + ["-d", source, image, "16M"])
    }

    /// Runs debugfs commands against `image`, writable. debugfs exits 0 even when a command fails,
    /// so its output is scanned for the usual failure words.
    func debugfs(_ image: String, _ commands: [String]) throws {
        let script = path("debugfs-\(UUID().uuidString.prefix(8)).cmd")
        try commands.joined(separator: "\n").appending("\n").write(toFile: script, atomically: true, encoding: .utf8)
        let output = try run("debugfs", ["-w", "-f", script, image])
        for line in output.split(separator: "\n") where !line.hasPrefix("debugfs") && !line.hasPrefix("Allocated inode") {
            throw ToolFailure(description: "debugfs: \(line)")
        }
    }

    /// Builds the base tree in `<name>-src` and its image `<name>.img`.
    func baseImage(_ name: String = "base", options: [String] = []) throws -> (image: String, source: String, expected: [Expected]) {
        let source = path(name + "-src")
        let expected = try Self.makeBaseTree(at: source)
        let image = path(name + ".img")
        try mkfs(source: source, image: image, options: options)
        return (image, source, expected)
    }

    // MARK: - Files

    static func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t, mtime: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw ToolFailure(description: "cannot create \(path)")
        }
        guard chmod(path, mode) == 0 else { throw ToolFailure(description: "chmod \(path)") }
        try setMtime(path, mtime)
    }

    /// Rewrites an existing file in place (same inode, so hard links see the new bytes).
    static func overwrite(_ path: String, _ bytes: [UInt8], mtime: Int) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
        try setMtime(path, mtime)
    }

    static func writeSparse(_ path: String, holeBytes: Int, tail: [UInt8], mtime: Int) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(holeBytes))
        try handle.write(contentsOf: Data(tail))
        try handle.close()
        guard chmod(path, 0o644) == 0 else { throw ToolFailure(description: "chmod \(path)") }
        try setMtime(path, mtime)
    }

    static func makeSymlink(_ path: String, target: String, mtime: Int) throws {
        guard symlink(target, path) == 0 else { throw ToolFailure(description: "symlink \(path)") }
        try setMtime(path, mtime, followLinks: false)
    }

    /// Creates a file whose name is given as raw bytes (no Unicode normalisation on the way).
    static func writeRawName(_ directory: String, _ name: [UInt8], content: [UInt8], mtime: Int) throws {
        let fullPath = Array(directory.utf8) + [0x2F] + name
        let descriptor = (fullPath + [0]).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY | O_TRUNC, 0o644) }
        }
        guard descriptor >= 0 else { throw ToolFailure(description: "cannot create a raw-named file") }
        let written = content.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == content.count else { throw ToolFailure(description: "short write") }
        var times = [timespec(tv_sec: mtime, tv_nsec: 0), timespec(tv_sec: mtime, tv_nsec: 0)]
        let status = (fullPath + [0]).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { utimensat(AT_FDCWD, $0.baseAddress!, &times, 0) }
        }
        guard status == 0 else { throw ToolFailure(description: "utimensat") }
    }

    static func setMtime(_ path: String, _ seconds: Int, followLinks: Bool = true) throws {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        guard utimensat(AT_FDCWD, path, &times, followLinks ? 0 : AT_SYMLINK_NOFOLLOW) == 0 else {
            throw ToolFailure(description: "utimensat \(path)")
        }
    }

    /// Deterministic bytes (xorshift64*), so that content checks are reproducible.
    static func pseudoRandom(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        while bytes.count < count {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            var word = state &* 0x2545_F491_4F6C_DD1D
            for _ in 0..<8 where bytes.count < count {
                bytes.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return bytes
    }

    static func readBytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Numbers of the `blockSize` blocks that differ between two image files (a block present in
    /// only one of them counts as changed).
    static func changedBlocks(_ a: String, _ b: String, blockSize: Int = 4096) throws -> Set<UInt64> {
        let x = try readBytes(a), y = try readBytes(b)
        var changed: Set<UInt64> = []
        let blocks = (max(x.count, y.count) + blockSize - 1) / blockSize
        for block in 0..<blocks {
            let range = block * blockSize..<(block + 1) * blockSize
            let left = x[min(range.lowerBound, x.count)..<min(range.upperBound, x.count)]
            let right = y[min(range.lowerBound, y.count)..<min(range.upperBound, y.count)]
            if !left.elementsEqual(right) { changed.insert(UInt64(block)) }
        }
        return changed
    }

    /// Overwrites bytes of an image file in place (to change a file's data without touching metadata).
    static func patch(_ image: String, at offset: UInt64, with bytes: [UInt8]) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: image))
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }
}
