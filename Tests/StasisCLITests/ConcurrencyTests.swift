import Foundation
import Testing

/// Invariants checked: two captures, a materialize and a gc started at the same moment on one
/// store (separate processes, as a daemon and CLI users would) all succeed; afterwards
/// `verify --deep` is clean and every image materializes bit-exact.
@Suite("Concurrent processes on one store")
struct ConcurrencyTests {
    @Test("two captures, a materialize and a gc at once")
    func mixed() throws {
        let dir = Scratch()
        let store = dir.file("store")
        _ = try StasisProcess.run(["init", "--store", store])
        let base = ImageBytes.make(pages: 2000, seed: 1)
        ImageBytes.write(base, to: dir.file("base"))
        let baseID = try StasisProcess.run(["image", "capture", dir.file("base"), "--store", store]).stdout.trimmingCharacters(in: .newlines)
        // Garbage for gc to collect while the others run.
        ImageBytes.write(ImageBytes.make(pages: 1500, seed: 2), to: dir.file("old"))
        let oldID = try StasisProcess.run(["image", "capture", dir.file("old"), "--store", store]).stdout.trimmingCharacters(in: .newlines)
        _ = try StasisProcess.run(["image", "rm", oldID, "--store", store])

        // Two new images that share most pages with base and with each other.
        var x = base, y = base
        let fresh = ImageBytes.make(pages: 2000, seed: 3)
        x.replaceSubrange(0..<(500 * 4096), with: fresh[0..<(500 * 4096)])
        y.replaceSubrange((400 * 4096)..<(900 * 4096), with: fresh[(400 * 4096)..<(900 * 4096)])
        ImageBytes.write(x, to: dir.file("x"))
        ImageBytes.write(y, to: dir.file("y"))

        for round in 0..<3 {
            let jobs = [
                try StasisProcess.start(["image", "capture", dir.file("x"), "--store", store, "--json", "--pack-size", "256K"]),
                try StasisProcess.start(["image", "capture", dir.file("y"), "--store", store, "--json", "--pack-size", "256K"]),
                try StasisProcess.start(["image", "materialize", baseID, dir.file("base-out-\(round)"), "--store", store]),
                try StasisProcess.start(["gc", "--store", store, "--repack-below", "0.9"]),
            ]
            let results = jobs.map(StasisProcess.finish)
            for (i, r) in results.enumerated() { #expect(r.status == 0, "round \(round) job \(i): \(r.stderr)") }
            let xID = try #require(results[0].json?["id"] as? String)
            let yID = try #require(results[1].json?["id"] as? String)
            #expect(ImageBytes.read(dir.file("base-out-\(round)")) == base)
            #expect(try StasisProcess.run(["verify", "--deep", "--store", store]).status == 0)
            for (id, bytes) in [(xID, x), (yID, y), (baseID, base)] {
                let out = dir.file("check-\(round)-\(id.prefix(8))")
                #expect(try StasisProcess.run(["image", "materialize", id, out, "--store", store]).status == 0)
                #expect(ImageBytes.read(out) == bytes)
            }
            // Next round: remove x so that gc has work while x is captured again.
            _ = try StasisProcess.run(["image", "rm", xID, "--store", store])
        }
    }
}
