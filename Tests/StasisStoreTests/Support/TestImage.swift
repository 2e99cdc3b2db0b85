import Foundation
import StasisIO
@testable import StasisStore

/// A temporary directory removed at the end of the test.
final class TemporaryDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "stasis-test-" + UUID().uuidString.prefix(8)
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// Deterministic page-structured test images: random, zero, repeated and text-like pages, with
/// optional holes — the shapes a guest memory file has.
struct TestImage {
    var rng: UInt64

    init(seed: UInt64) { rng = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        rng &+= 0x9E37_79B9_7F4A_7C15
        var z = rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `pages` pages of 4 KiB: kinds drawn per run of 1–16 pages, then `extra` random bytes.
    mutating func bytes(pages: Int, extra: Int = 0) -> [UInt8] {
        var words = [UInt64](repeating: 0, count: pages * 512)
        let library = (0..<4).map { _ in (0..<512).map { _ in next() } }
        var p = 0
        while p < pages {
            let run = Int(next() % 16) + 1
            let kind = next() % 4
            for q in p..<min(pages, p + run) {
                let base = q * 512
                switch kind {
                case 0: break                                                          // zero
                case 1: for i in 0..<512 { words[base + i] = next() }                  // random
                case 2: for i in 0..<512 { words[base + i] = library[q % 4][i] }       // repeated
                default: for i in 0..<512 { words[base + i] = 0x2020_6574_6167_6170 &+ (next() % 8) }  // text-like
                }
            }
            p += run
        }
        var out = words.withUnsafeBytes { [UInt8]($0) }
        for _ in 0..<extra { out.append(UInt8(truncatingIfNeeded: next())) }
        return out
    }
}

enum TestFiles {
    static func write(_ bytes: [UInt8], to path: String) {
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    static func read(_ path: String) -> [UInt8] {
        [UInt8](FileManager.default.contents(atPath: path) ?? Data())
    }

    /// Writes only the given pages of `bytes` into a sparse file of the full size (a diff file).
    static func writeSparse(_ bytes: [UInt8], pages: [Int], to path: String) throws {
        let fd = try FileDescriptor.open(path, .createTruncate)
        defer { fd.close() }
        try fd.truncate(to: Int64(bytes.count))
        for p in pages {
            let slice = Array(bytes[p * 4096..<min(bytes.count, (p + 1) * 4096)])
            try slice.withRawBytes { (raw) throws(IOError) in try fd.write(raw, at: Int64(p * 4096)) }
        }
    }
}
