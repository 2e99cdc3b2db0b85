import Foundation
import StasisStoreTestSupport
import Testing

/// Invariants checked, against the test PostgreSQL and SeaweedFS, through the real binary:
/// - `init --catalog … --objects …` creates a fleet store; a second host joins with `--key`; an
///   image captured on the first materializes bit-exact on the second after the first host's
///   directory is deleted;
/// - no password or secret key appears in the descriptor, in `--json` output or in errors;
/// - bad input is refused with exit 64 (usage) or 1, naming the option, the bucket or the
///   variable, and leaves no directory behind: --catalog without --objects, a wrong key, a
///   missing bucket, a missing secret key, an unreachable catalog.
@Suite("stasis init for a fleet store", .enabled(if: !TestStores.servicesSkipped, "STASIS_TEST_NO_SERVICES=1"))
struct FleetCommandTests {
    @Test("create on one host, join on another, restore there after the first is gone")
    func createJoinRestore() throws {
        let dir = Scratch()
        guard case .shared(let catalog, let objects, _, _) = try TestStores.fleetBackends() else { return }
        let created = try StasisProcess.run(["init", "--store", dir.file("a"), "--catalog", catalog.description, "--objects", objects, "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.json?["catalog"] as? String == catalog.description && created.json?["action"] as? String == "created")
        let bytes = ImageBytes.make(pages: 200, seed: 9)
        FileManager.default.createFile(atPath: dir.file("mem"), contents: Data(bytes))
        let capture = try StasisProcess.run(["image", "capture", dir.file("mem"), "--store", dir.file("a"), "--json"])
        #expect(capture.status == 0, "\(capture.stderr)")
        let image = try #require(capture.json?["id"] as? String)
        try FileManager.default.copyItem(atPath: dir.file("a") + "/keys/store.ed25519", toPath: dir.file("key"))
        try FileManager.default.copyItem(atPath: dir.file("a") + "/keys/master.key", toPath: dir.file("copied-master.key"))
        try FileManager.default.removeItem(atPath: dir.file("a"))

        // The store is encrypted: joining without its master key is refused, naming the option.
        let keyless = try StasisProcess.run(["init", "--store", dir.file("b"), "--catalog", catalog.description, "--objects", objects, "--key", dir.file("key")])
        #expect(keyless.status == 1 && keyless.stderr.contains("--master-key"), "\(keyless.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("b") + "/store.json"))
        let joined = try StasisProcess.run(["init", "--store", dir.file("b"), "--catalog", catalog.description, "--objects", objects, "--key", dir.file("key"),
                                            "--master-key", dir.file("copied-master.key"), "--json"])
        #expect(joined.status == 0, "\(joined.stderr)")
        #expect(joined.json?["action"] as? String == "joined")
        let out = try StasisProcess.run(["image", "materialize", image, dir.file("out"), "--store", dir.file("b")])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(FileManager.default.contents(atPath: dir.file("out")) == Data(bytes))

        let secrets = [try TestStores.postgresPassword(), ProcessInfo.processInfo.environment["AWS_SECRET_ACCESS_KEY"] ?? "-"]
        let descriptor = String(decoding: FileManager.default.contents(atPath: dir.file("b") + "/store.json") ?? Data(), as: UTF8.self)
        for text in [descriptor, created.stdout, created.stderr, joined.stdout] {
            for secret in secrets { #expect(!text.contains(secret)) }
        }
    }

    @Test("bad input is named and leaves nothing behind")
    func badInput() throws {
        let dir = Scratch()
        guard case .shared(let catalog, let objects, _, _) = try TestStores.fleetBackends() else { return }
        let half = try StasisProcess.run(["init", "--store", dir.file("x"), "--catalog", catalog.description])
        #expect(half.status == 64 && half.stderr.contains("--objects"))

        let noBucket = try StasisProcess.run(["init", "--store", dir.file("x"), "--catalog", catalog.description, "--objects", "s3://no-such-bucket-\(UUID().uuidString.prefix(8).lowercased())/p"])
        #expect(noBucket.status == 1 && noBucket.stderr.contains("no-such-bucket"), "\(noBucket.stderr)")

        let noSecret = try StasisProcess.run(["init", "--store", dir.file("x"), "--catalog", catalog.description, "--objects", objects],
                                             environment: ["AWS_SECRET_ACCESS_KEY": ""])
        #expect(noSecret.status == 1 && noSecret.stderr.contains("AWS_SECRET_ACCESS_KEY"), "\(noSecret.stderr)")

        let deadCatalog = try StasisProcess.run(["init", "--store", dir.file("x"), "--catalog", "postgres://stasis@127.0.0.1:1/stasis", "--objects", objects])
        #expect(deadCatalog.status == 1 && deadCatalog.stderr.contains("127.0.0.1:1"), "\(deadCatalog.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("x")))

        #expect(try StasisProcess.run(["init", "--store", dir.file("a"), "--catalog", catalog.description, "--objects", objects]).status == 0)
        _ = try StasisProcess.run(["init", "--store", dir.file("other")])
        let wrongKey = try StasisProcess.run(["init", "--store", dir.file("b"), "--catalog", catalog.description, "--objects", objects,
                                              "--key", dir.file("other") + "/keys/store.ed25519"])
        #expect(wrongKey.status == 1 && wrongKey.stderr.contains("not this store's key"), "\(wrongKey.stderr)")
        let again = try StasisProcess.run(["init", "--store", dir.file("c"), "--catalog", catalog.description, "--objects", objects])
        #expect(again.status == 1 && again.stderr.contains("already holds a store"), "\(again.stderr)")
        for name in ["b", "c"] { #expect(!FileManager.default.fileExists(atPath: dir.file(name))) }
    }
}
