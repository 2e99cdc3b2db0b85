import Foundation
import Testing

/// Invariants checked: `stasis image capture` and `stasis gc` killed with SIGKILL at every named
/// crash point (and a capture killed from outside while it runs) leave a store where
/// - `verify --deep` finds no damage,
/// - every image committed before the crash materializes bit-exact,
/// - the interrupted capture either fully exists or not at all,
/// - `gc` removes whatever the crash left behind, after which nothing is left over,
/// - the same capture run again succeeds.
@Suite("Crash consistency (SIGKILL)", .serialized)
struct CrashTests {
    static let capturePoints = ["capture.chunk-written", "capture.chunk-written@40", "pack.before-fsync",
                                "pack.before-rename", "pack.after-rename", "capture.before-commit", "capture.after-commit"]
    static let gcPoints = ["gc.before-commit", "gc.after-commit", "gc.pack-deleted"]

    struct Fixture {
        let dir = Scratch()
        var store: String { dir.file("store") }
        var earlier: [(id: String, bytes: [UInt8])] = []

        init() throws {
            _ = try StasisProcess.run(["init", "--store", dir.file("store")])
            for seed in 1...2 {
                let bytes = ImageBytes.make(pages: 400, seed: UInt64(seed))
                ImageBytes.write(bytes, to: dir.file("e\(seed)"))
                let r = try StasisProcess.run(["image", "capture", dir.file("e\(seed)"), "--store", dir.file("store")])
                earlier.append((r.stdout.trimmingCharacters(in: .newlines), bytes))
            }
            ImageBytes.write(ImageBytes.make(pages: 3000, seed: 99), to: dir.file("new"))
        }

        func assertConsistent(_ label: String) throws {
            let verify = try StasisProcess.run(["verify", "--deep", "--store", store, "--json"])
            #expect(verify.status == 0, "\(label): verify found damage: \(verify.stdout)")
            for (i, image) in earlier.enumerated() {
                let out = dir.file("check-\(i)")
                try? FileManager.default.removeItem(atPath: out)
                let m = try StasisProcess.run(["image", "materialize", image.id, out, "--store", store])
                #expect(m.status == 0, "\(label): \(m.stderr)")
                #expect(ImageBytes.read(out) == image.bytes, "\(label): image \(image.id) changed")
            }
        }
    }

    @Test("capture killed at each crash point", arguments: capturePoints)
    func captureCrash(point: String) throws {
        let f = try Fixture()
        let crashed = try StasisProcess.run(["image", "capture", f.dir.file("new"), "--store", f.store, "--pack-size", "1M"],
                                            environment: ["STASIS_CRASH_AT": point])
        #expect(crashed.signaled && crashed.status == SIGKILL, "\(point) was not reached: \(crashed.stderr)")
        try f.assertConsistent(point)
        let images = try StasisProcess.run(["image", "ls", "--store", f.store, "--json"])
        let count = ((try JSONSerialization.jsonObject(with: Data(images.stdout.utf8))) as? [Any])?.count
        #expect(count == (point == "capture.after-commit" ? 3 : 2), "\(point): the capture must exist whole or not at all")

        let gc = try StasisProcess.run(["gc", "--store", f.store])
        #expect(gc.status == 0)
        #expect((try StasisProcess.run(["verify", "--store", f.store, "--json"]).json?["leftoverFiles"] as? Int) == 0)
        let again = try StasisProcess.run(["image", "capture", f.dir.file("new"), "--store", f.store])
        #expect(again.status == 0)
        try f.assertConsistent(point + " then capture again")
    }

    @Test("gc killed at each crash point", arguments: gcPoints)
    func gcCrash(point: String) throws {
        var f = try Fixture()
        // Something to collect: remove the first image; what is shared stays.
        let removed = f.earlier.removeFirst()
        _ = try StasisProcess.run(["image", "rm", removed.id, "--store", f.store])
        let crashed = try StasisProcess.run(["gc", "--store", f.store, "--repack-below", "1"], environment: ["STASIS_CRASH_AT": point])
        #expect(crashed.signaled && crashed.status == SIGKILL, "\(point) was not reached: \(crashed.stderr)")
        try f.assertConsistent(point)
        #expect(try StasisProcess.run(["gc", "--store", f.store]).status == 0)
        try f.assertConsistent(point + " then gc again")
    }

    @Test("key rotation killed before and after its catalog commit: the store opens with the key left in place",
          arguments: ["key-rotate.before-commit", "key-rotate.after-commit"])
    func keyRotationCrash(point: String) throws {
        let f = try Fixture()
        let crashed = try StasisProcess.run(["key", "rotate", "--store", f.store], environment: ["STASIS_CRASH_AT": point])
        #expect(crashed.signaled && crashed.status == SIGKILL, "\(point) was not reached: \(crashed.stderr)")
        try f.assertConsistent(point)
        #expect(!FileManager.default.fileExists(atPath: f.store + "/keys/master.key.next"), "\(point): the pending key was not settled")
        #expect(try StasisProcess.run(["key", "rotate", "--store", f.store]).status == 0)
        try f.assertConsistent(point + " then rotate again")
    }

    @Test("capture killed from outside while it runs")
    func externalKill() throws {
        let f = try Fixture()
        // Larger input so that the kill lands mid-capture; whenever it lands, the invariants hold.
        ImageBytes.write(ImageBytes.make(pages: 20000, seed: 7), to: f.dir.file("big"))
        for attempt in 0..<4 {
            let started = try StasisProcess.start(["image", "capture", f.dir.file("big"), "--store", f.store, "--pack-size", "1M"])
            usleep(UInt32(20_000 * attempt + 5_000))
            kill(started.0.processIdentifier, SIGKILL)
            _ = StasisProcess.finish(started)
            try f.assertConsistent("external kill \(attempt)")
        }
        #expect(try StasisProcess.run(["gc", "--store", f.store]).status == 0)
        try f.assertConsistent("after gc")
    }
}
