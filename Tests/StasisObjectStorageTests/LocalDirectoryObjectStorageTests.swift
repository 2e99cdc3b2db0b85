import Foundation
import Testing
import StasisIO
@testable import StasisObjectStorage

/// Invariants checked: bytes and files round-trip bit-exact (empty included) at the local store's
/// paths; objects are 0600 and their directories 0700; a failed write (digest mismatch, forced
/// fsync or rename error) leaves no object and no temporary file; ranges are exact or refused
/// with the size; head is nil for a missing object; delete is idempotent; list sees neither the
/// temporary directory nor other prefixes. The same contract holds for the in-memory storage, and
/// the fault-injecting wrapper fails exactly the calls it is told to.
@Suite("Local directory and in-memory object storage", .serialized)
struct LocalDirectoryObjectStorageTests {
    let root = temporaryDirectory("local")

    func storages() -> [any ObjectStorage] {
        [LocalDirectoryObjectStorage(root: root), InMemoryObjectStorage()]
    }

    @Test("round trips, ranges, head, delete, list — both storages")
    func contract() async throws {
        for storage in storages() {
            let data = testBytes(100_000)
            let key = ObjectKey.pack(id: "ab01")
            try await storage.put(key, bytes: data, sha256: ObjectDigest.of(data))
            #expect(try await storage.get(key) == data)
            #expect(try await storage.head(key)?.size == 100_000)
            #expect(try await storage.get(key, range: 0..<1) == [data[0]])
            #expect(try await storage.get(key, range: 99_999..<100_000) == [data[99_999]])
            #expect(try await storage.get(key, range: 100_000..<100_000) == [])
            #expect(try await storage.get(key, range: 1234..<5678) == Array(data[1234..<5678]))
            let error = await expectFailure({ () async throws(ObjectStorageError) in try await storage.get(key, range: 99_990..<100_001) }) {
                if case .rangeNotSatisfiable(_, _, let size) = $0 { return size == 100_000 } else { return false }
            }
            #expect("\(String(describing: error))".contains("100000 bytes"))

            let empty = ObjectKey.manifest(id: "cd02")
            try await storage.put(empty, bytes: [])
            #expect(try await storage.get(empty) == [])
            #expect(try await storage.head(empty)?.size == 0)

            try await storage.put(try ObjectKey("other/x"), bytes: [1])
            #expect(try await storage.list(prefix: "packs/").map(\.key) == [key])
            #expect(try await storage.list(prefix: "packs/a").map(\.key) == [key])
            #expect(try await storage.list(prefix: "").map(\.key.rawValue) == ["manifests/cd/cd02.manifest", "other/x", "packs/ab/ab01.pack"])

            try await storage.delete(key)
            try await storage.delete(key)
            #expect(try await storage.head(key) == nil)
            _ = await expectFailure({ () async throws(ObjectStorageError) in try await storage.get(key) }) {
                if case .notFound = $0 { return true } else { return false }
            }
        }
    }

    @Test("a digest that does not match stores nothing")
    func digestMismatch() async throws {
        for storage in storages() {
            let key = ObjectKey.pack(id: "ee03")
            _ = await expectFailure({ () async throws(ObjectStorageError) in
                try await storage.put(key, bytes: [1, 2, 3], sha256: ObjectDigest.of([1, 2, 4]))
            }) { if case .checksumMismatch = $0 { return true } else { return false } }
            #expect(try await storage.head(key) == nil)
        }
        #expect((try? FileManager.default.contentsOfDirectory(atPath: root + "/tmp").isEmpty) ?? true)
    }

    @Test("files: same layout as the store, 0600 files in 0700 directories, no temporary left")
    func filesAndPermissions() async throws {
        let storage = LocalDirectoryObjectStorage(root: root)
        let source = root + "-source"
        let data = testBytes(3 << 20 + 17, seed: 9)
        try Data(data).write(to: URL(fileURLWithPath: source))
        defer { try? FileManager.default.removeItem(atPath: source) }
        let key = ObjectKey.pack(id: "0f1e2d")
        try await storage.put(key, contentsOf: source, sha256: ObjectDigest.of(data))
        #expect(storage.path(for: key) == root + "/packs/0f/0f1e2d.pack")
        #expect(try await storage.get(key) == data)
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
        }
        #expect(try mode(root + "/packs/0f/0f1e2d.pack") == 0o600)
        #expect(try mode(root + "/packs/0f") == 0o700)
        #expect(try mode(root + "/packs") == 0o700)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").isEmpty)

        // The wrong digest for a file: refused after reading, nothing under the key.
        let other = ObjectKey.pack(id: "0f9999")
        _ = await expectFailure({ () async throws(ObjectStorageError) in
            try await storage.put(other, contentsOf: source, sha256: ObjectDigest.of([0]))
        }) { if case .checksumMismatch = $0 { return true } else { return false } }
        #expect(!FileManager.default.fileExists(atPath: storage.path(for: other)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").isEmpty)

        _ = await expectFailure({ () async throws(ObjectStorageError) in
            try await storage.put(other, contentsOf: root + "/no-such-file")
        }) { if case .io = $0 { return "\($0)".contains("no-such-file") } else { return false } }
    }

    @Test("a failing fsync or rename leaves neither the object nor a temporary file")
    func durabilityFailures() async throws {
        let storage = LocalDirectoryObjectStorage(root: root)
        for call in [FaultInjection.Call.fsync, .rename] {
            let key = ObjectKey.manifest(id: "aa\(call)")
            FaultInjection.install([FaultInjection.Rule(call: call, errno: .ioError, after: 1, pathPrefix: root + "/tmp")])
            let error = await expectFailure({ () async throws(ObjectStorageError) in try await storage.put(key, bytes: [1, 2, 3]) }) {
                if case .io(_, let cause) = $0 { return (cause as? IOError)?.errno == .ioError } else { return false }
            }
            FaultInjection.remove(pathPrefix: root + "/tmp")
            #expect("\(String(describing: error))".contains(storage.path(for: key)))
            #expect(try await storage.head(key) == nil)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").isEmpty)
        }
    }

    @Test("fault injection wrapper fails the chosen calls only")
    func faultWrapper() async throws {
        let memory = InMemoryObjectStorage()
        let faulty = FaultInjectingObjectStorage(wrapping: memory)
        let key = try ObjectKey("k")
        let at = ObjectLocation(storage: "memory", key: "k")
        faulty.inject(.put, after: 1, times: 1, error: .unavailable(at, operation: "PUT", attempts: 3, cause: S3ServiceError(status: 503, code: "SlowDown")))
        try await faulty.put(key, bytes: [1])
        _ = await expectFailure({ () async throws(ObjectStorageError) in try await faulty.put(key, bytes: [2]) }) {
            if case .unavailable = $0 { return true } else { return false }
        }
        try await faulty.put(key, bytes: [3])
        #expect(try await faulty.get(key) == [3])
        #expect(memory.operations["put"] == 2)
    }
}
