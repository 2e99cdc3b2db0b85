import Foundation
import Testing
@testable import StasisIO

/// Invariants checked: the syscall wrappers report failures as typed errors naming the file and
/// the errno; the fault-injection seam forces a chosen errno on the n-th call of a kind and only
/// under its path prefix; sparse files report exactly their allocated ranges; the environment
/// syntax ignores malformed entries instead of failing a real run.
@Suite("StasisIO syscall wrappers", .serialized)
struct FaultInjectionSeamTests {
    let dir: String = {
        let d = NSTemporaryDirectory() + "stasis-io-" + UUID().uuidString.prefix(8)
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()

    @Test("errors name the file and errno")
    func errorsNameTheFile() throws {
        #expect {
            _ = try FileDescriptor.open(dir + "/missing", .readOnly)
        } throws: { error in
            let e = error as! IOError
            return e.errno == .noEntry && e.path.hasSuffix("/missing") && "\(e)".contains("ENOENT")
        }
    }

    @Test("forced errno on the n-th call, scoped to a path prefix")
    func forcedErrno() throws {
        let fd = try FileDescriptor.open(dir + "/f", .createTruncate)
        defer { fd.close() }
        FaultInjection.install([FaultInjection.Rule(call: .write, errno: .noSpace, after: 3, pathPrefix: dir)])
        defer { FaultInjection.remove(pathPrefix: dir) }
        let bytes: [UInt8] = [1, 2, 3]
        try bytes.withRawBytes { (b) throws(IOError) in
            try fd.write(b, at: 0)
            try fd.write(b, at: 3)
        }
        #expect {
            try bytes.withRawBytes { (b) throws(IOError) in try fd.write(b, at: 6) }
        } throws: { ($0 as? IOError)?.errno == .noSpace && "\($0)".contains("free space") }
        // Other paths are not affected.
        let other = try FileDescriptor.open(NSTemporaryDirectory() + "stasis-io-other-" + UUID().uuidString.prefix(8), .createTruncate)
        defer { other.close(); try? FileSystem.remove(other.path) }
        try bytes.withRawBytes { (b) throws(IOError) in try other.write(b, at: 0) }
    }

    @Test("environment syntax")
    func parse() {
        let rules = FaultInjection.parse(environment: "write=ENOSPC@3,fsync=EIO,bogus=EIO,read=NOTANERRNO")
        #expect(rules.count == 2)
        #expect(rules[0].call == .write && rules[0].errno == .noSpace && rules[0].after == 3)
        #expect(rules[1].call == .fsync && rules[1].errno == .ioError && rules[1].after == 1)
        #expect(FaultInjection.parse(environment: nil).isEmpty)
    }

    @Test("data ranges of a sparse file")
    func sparse() throws {
        let fd = try FileDescriptor.open(dir + "/sparse", .createTruncate)
        defer { fd.close() }
        try fd.truncate(to: 1 << 20)
        let page = [UInt8](repeating: 0, count: 4096)   // zeros written as data still count
        try page.withRawBytes { (b) throws(IOError) in
            try fd.write(b, at: 64 << 10)
            try fd.write(b, at: 512 << 10)
        }
        let ranges = try fd.dataRanges()
        #expect(ranges.reduce(0) { $0 + $1.count } >= 8192)
        #expect(ranges.allSatisfy { $0.overlaps((64 << 10)..<((64 << 10) + 4096)) || $0.overlaps((512 << 10)..<((512 << 10) + 4096)) })
        #expect(ranges.count == 2)
    }
}
