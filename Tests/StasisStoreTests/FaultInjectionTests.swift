import Foundation
import Testing
import StasisIO
@testable import StasisStore
import StasisStoreTestSupport

/// Invariants checked, by forcing errno on system calls through StasisIO's seam: a capture that
/// hits ENOSPC or EIO (while writing, at fsync, at rename) fails with a message naming the file,
/// leaves no pack behind and no image in the catalog, and every earlier image still materializes;
/// a materialize that hits ENOSPC leaves no output file.
@Suite("Injected I/O faults", .serialized)
struct FaultInjectionTests {
    @Test("capture failures leave the store as it was", arguments: [
        FaultInjection.Rule(call: .write, errno: .noSpace, after: 2),
        FaultInjection.Rule(call: .fsync, errno: .ioError),
        FaultInjection.Rule(call: .rename, errno: .noSpace),
        FaultInjection.Rule(call: .read, errno: .ioError, after: 3),
    ])
    func captureFaults(rule: FaultInjection.Rule) throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("s"))
        var gen = TestImage(seed: 31)
        let first = gen.bytes(pages: 100)
        TestFiles.write(first, to: dir.file("first"))
        let kept = try store.capture(dir.file("first")).image.id
        TestFiles.write(gen.bytes(pages: 3000), to: dir.file("second"))

        var scoped = rule
        scoped.pathPrefix = dir.path
        FaultInjection.install([scoped])
        defer { FaultInjection.remove(pathPrefix: dir.path) }
        #expect {
            _ = try store.capture(dir.file("second"), options: CaptureOptions(packTargetSize: 1 << 20))
        } throws: { error in
            "\(error)".contains(rule.errno.name)
        }
        FaultInjection.remove(pathPrefix: dir.path)

        #expect(try store.catalog.images().map(\.id) == [kept])
        #expect(try store.verify(deep: true).ok)
        #expect(try store.verify().leftoverFiles == 0)
        _ = try store.materialize(kept, to: dir.file("out"))
        #expect(TestFiles.read(dir.file("out")) == first)
    }

    @Test("materialize that runs out of space leaves no output")
    func materializeFault() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("s"))
        var gen = TestImage(seed: 32)
        TestFiles.write(gen.bytes(pages: 500), to: dir.file("img"))
        let id = try store.capture(dir.file("img")).image.id
        FaultInjection.install([FaultInjection.Rule(call: .write, errno: .noSpace, after: 2, pathPrefix: dir.path)])
        defer { FaultInjection.remove(pathPrefix: dir.path) }
        #expect(throws: StoreError.self) { _ = try store.materialize(id, to: dir.file("out")) }
        FaultInjection.remove(pathPrefix: dir.path)
        #expect(!FileSystem.exists(dir.file("out")))
        #expect(try FileSystem.list(dir.path).filter { $0.contains(".stasis-") }.isEmpty)
    }
}
