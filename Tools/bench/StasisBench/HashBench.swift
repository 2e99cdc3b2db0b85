// stasis-bench hash: single-thread SHA-256 throughput of swift-crypto.

import ArgumentParser
import Crypto
import Foundation

struct HashBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "SHA-256 throughput (swift-crypto, one thread) on 4 KiB and 64 KiB buffers; prints GB/s as JSON.")

    @Option(help: "Seconds per buffer size.") var seconds: Double = 2

    struct Report: Encodable {
        var algorithm = "sha256"
        var implementation = "swift-crypto"
        var threads = 1
        var sha256_4k_gbps: Double
        var sha256_64k_gbps: Double
        var sha256_4k_hashes_per_s: Double
        var secondsPerSize: Double
    }

    /// Hashes the same `size`-byte buffer repeatedly for `seconds`; returns (bytes/s, hashes/s).
    static func measure(size: Int, seconds: Double) -> (Double, Double) {
        var buf = [UInt8](repeating: 0, count: size)
        for i in buf.indices { buf[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        var sink: UInt8 = 0
        return buf.withUnsafeBytes { raw in
            // Warm-up.
            for _ in 0..<64 { sink ^= SHA256.hash(data: raw).withUnsafeBytes { $0[0] } }
            var n = 0
            let t0 = now()
            var t = t0
            while t - t0 < seconds {
                for _ in 0..<32 {
                    sink ^= SHA256.hash(data: raw).withUnsafeBytes { $0[0] }
                }
                n += 32
                t = now()
            }
            if sink == 0x5A && n < 0 { print(sink) }  // keep the results alive
            let dt = t - t0
            return (Double(n * size) / dt, Double(n) / dt)
        }
    }

    func run() throws {
        let (b4, h4) = HashBench.measure(size: 4096, seconds: seconds)
        let (b64, _) = HashBench.measure(size: 65536, seconds: seconds)
        try printJSONLine(Report(sha256_4k_gbps: round3(b4 / 1e9), sha256_64k_gbps: round3(b64 / 1e9),
                                 sha256_4k_hashes_per_s: h4.rounded(), secondsPerSize: seconds))
    }
}
