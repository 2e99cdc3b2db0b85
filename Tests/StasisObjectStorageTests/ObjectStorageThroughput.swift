import Foundation
import Testing
import StasisObjectStorage

/// A throughput figure, not a test of behaviour: runs only when STASIS_OBJECT_STORAGE_BENCH=1
/// (Tools/bench/object-storage.sh sets it, in a release build). Puts and gets a 64 MiB object
/// through the test SeaweedFS, then reads it back as 8 parallel ranged GETs, and prints MB/s.
@Suite("Object storage throughput", .enabled(if: ProcessInfo.processInfo.environment["STASIS_OBJECT_STORAGE_BENCH"] == "1"))
struct ObjectStorageThroughput {
    @Test("64 MiB through SeaweedFS: put, get, 8 parallel ranged gets")
    func throughput() async throws {
        let storage = S3ObjectStorage(configuration: try TestServices.configuration())
        let size = 64 << 20
        let data = testBytes(size, seed: 64)
        let digest = ObjectDigest.of(data)
        let key = ObjectKey.pack(id: "bench64")
        let clock = ContinuousClock()
        func rate(_ d: Duration) -> String {
            let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            return String(format: "%.0f MB/s (%.2f s)", Double(size) / 1e6 / seconds, seconds)
        }

        let put = try await clock.measure { try await storage.put(key, bytes: data, sha256: digest) }
        var got: [UInt8] = []
        let get = try await clock.measure { got = try await storage.get(key) }
        #expect(ObjectDigest.of(got) == digest)

        let slices = 8
        let slice = Int64(size / slices)
        var parts = [[UInt8]](repeating: [], count: slices)
        let parallel = try await clock.measure {
            try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
                for i in 0..<slices {
                    group.addTask {
                        (i, try await storage.get(key, range: Int64(i) * slice..<Int64(i + 1) * slice))
                    }
                }
                for try await (i, bytes) in group { parts[i] = bytes }
            }
        }
        #expect(ObjectDigest.of(parts.flatMap { $0 }) == digest)
        try await storage.delete(key)
        print("object-storage throughput, 64 MiB via \(storage.configuration.endpoint): put \(rate(put)), get \(rate(get)), 8 parallel ranged gets \(rate(parallel))")
    }
}
