import Foundation
import Testing

/// Invariants checked, through the real binary:
/// - the main flow (init, capture, incremental capture with --dirty, materialize, verify, stats,
///   ls/show/rm, gc, blobs) works and prints parseable JSON with --json;
/// - exit codes scripts can trust: 0 success, 1 failure (message on stderr naming the file, id or
///   store, and with --json a JSON error on stdout), 2 verify found damage, 64 bad arguments;
/// - a failed command leaves the store as it was.
@Suite("stasis command line")
struct CommandLineTests {
    @Test("init, capture, incremental, materialize, verify, stats, gc with --json")
    func mainFlow() throws {
        let dir = Scratch()
        let store = dir.file("store")
        #expect(try StasisProcess.run(["init", "--store", store]).status == 0)
        let base = ImageBytes.make(pages: 300, seed: 1)
        var next = base
        for i in 40 * 4096..<45 * 4096 { next[i] = UInt8(truncatingIfNeeded: i) }
        ImageBytes.write(base, to: dir.file("base.img"))
        ImageBytes.write(next, to: dir.file("next.img"))
        // The diff: only pages 40–44, as holes elsewhere.
        let diff = FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: dir.file("next.diff"), contents: nil); return dir.file("next.diff") }())!
        try diff.truncate(atOffset: UInt64(next.count))
        try diff.seek(toOffset: 40 * 4096)
        diff.write(Data(next[40 * 4096..<45 * 4096]))
        try diff.close()

        let a = try StasisProcess.run(["image", "capture", dir.file("base.img"), "--store", store, "--json"])
        #expect(a.status == 0)
        let baseID = try #require(a.json?["id"] as? String)
        #expect(baseID.count == 64)
        let b = try StasisProcess.run(["image", "capture", dir.file("next.img"), "--store", store, "--parent", baseID,
                                       "--dirty", dir.file("next.diff"), "--json"])
        #expect(b.status == 0)
        let nextID = try #require(b.json?["id"] as? String)
        #expect(b.json?["readBytes"] as? Int == 5 * 4096)
        #expect(b.json?["parent"] as? String == baseID)

        // Plain output: the id alone on stdout, for $(…).
        let c = try StasisProcess.run(["image", "capture", dir.file("next.img"), "--store", store])
        #expect(c.stdout == nextID + "\n")

        #expect(try StasisProcess.run(["image", "materialize", String(nextID.prefix(10)), dir.file("out.img"), "--store", store]).status == 0)
        #expect(ImageBytes.read(dir.file("out.img")) == next)

        let verify = try StasisProcess.run(["verify", "--deep", "--store", store, "--json"])
        #expect(verify.status == 0)
        #expect(verify.json?["problems"] as? [Any] != nil)
        let stats = try StasisProcess.run(["stats", "--store", store, "--json"])
        #expect(stats.json?["images"] as? Int == 2)
        let ls = try StasisProcess.run(["image", "ls", "--store", store, "--json"])
        #expect(((try? JSONSerialization.jsonObject(with: Data(ls.stdout.utf8))) as? [Any])?.count == 2)
        #expect(try StasisProcess.run(["image", "show", baseID, "--store", store, "--json"]).json?["chunks"] as? Int == 300)

        // STASIS_STORE works in place of --store.
        #expect(try StasisProcess.run(["image", "rm", baseID], environment: ["STASIS_STORE": store]).status == 0)
        let gc = try StasisProcess.run(["gc", "--store", store, "--json"])
        #expect(gc.status == 0)
        #expect(try StasisProcess.run(["image", "materialize", nextID, dir.file("again.img"), "--store", store]).status == 0)
        #expect(ImageBytes.read(dir.file("again.img")) == next)

        // Blobs.
        ImageBytes.write(Array("a log line\n".utf8), to: dir.file("log"))
        let put = try StasisProcess.run(["blob", "put", dir.file("log"), "--store", store])
        let blobID = put.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try StasisProcess.run(["blob", "get", blobID, "--store", store]).stdout == "a log line\n")
    }

    @Test("errors name what is wrong and exit 1; bad arguments exit 64")
    func errors() throws {
        let dir = Scratch()
        let store = dir.file("store")
        let missingStore = try StasisProcess.run(["image", "ls", "--store", dir.file("nope")])
        #expect(missingStore.status == 1)
        #expect(missingStore.stderr.contains("no Stasis store at") && missingStore.stderr.contains("stasis init"))

        #expect(try StasisProcess.run(["init", "--store", store]).status == 0)
        let again = try StasisProcess.run(["init", "--store", store])
        #expect(again.status == 1 && again.stderr.contains("already exists"))

        let missing = try StasisProcess.run(["image", "capture", dir.file("missing.img"), "--store", store, "--json"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("missing.img"))
        #expect((missing.json?["error"] as? String)?.contains("missing.img") == true)

        ImageBytes.write(ImageBytes.make(pages: 10, seed: 2), to: dir.file("a.img"))
        ImageBytes.write(ImageBytes.make(pages: 11, seed: 3), to: dir.file("b.img"))
        let a = try StasisProcess.run(["image", "capture", dir.file("a.img"), "--store", store]).stdout.trimmingCharacters(in: .newlines)
        let wrongSize = try StasisProcess.run(["image", "capture", dir.file("a.img"), "--store", store, "--parent", a, "--dirty", dir.file("b.img")])
        #expect(wrongSize.status == 1)
        #expect(wrongSize.stderr.contains("b.img") && wrongSize.stderr.contains("same size"))

        let unknown = try StasisProcess.run(["image", "materialize", "deadbeef", dir.file("o"), "--store", store])
        #expect(unknown.status == 1 && unknown.stderr.contains("deadbeef"))
        let exists = try StasisProcess.run(["image", "materialize", a, dir.file("b.img"), "--store", store])
        #expect(exists.status == 1 && exists.stderr.contains("--force"))
        #expect(ImageBytes.read(dir.file("b.img")).count == 11 * 4096)

        #expect(try StasisProcess.run(["image", "capture", "--store", store]).status == 64)
        #expect(try StasisProcess.run(["image", "capture", dir.file("a.img"), "--dirty", dir.file("b.img"), "--store", store]).status == 64)
        #expect(try StasisProcess.run(["init", "--store", dir.file("s2"), "--chunk-size", "3K"]).status == 64)
        let badCodec = try StasisProcess.run(["init", "--store", dir.file("s2"), "--compression", "zstd:42"])
        #expect(badCodec.status == 64 && badCodec.stderr.contains("--compression") && !FileManager.default.fileExists(atPath: dir.file("s2")))
        let zstd = try StasisProcess.run(["init", "--store", dir.file("s3"), "--compression", "zstd:3", "--json"])
        #expect(zstd.status == 0 && zstd.json?["compression"] as? String == "zstd:3")
        let zstdID = try StasisProcess.run(["image", "capture", dir.file("a.img"), "--store", dir.file("s3")]).stdout.trimmingCharacters(in: .newlines)
        #expect(try StasisProcess.run(["image", "materialize", zstdID, dir.file("a.zstd.out"), "--store", dir.file("s3")]).status == 0)
        #expect(ImageBytes.read(dir.file("a.zstd.out")) == ImageBytes.read(dir.file("a.img")))
        #expect(try StasisProcess.run(["stats", "--store", dir.file("s3")]).stdout.contains("new data: zstd:3"))
        #expect(try StasisProcess.run(["gc", "--repack-below", "2", "--store", store]).status == 64)
        #expect(try StasisProcess.run(["no-such-command"]).status == 64)

        let help = try StasisProcess.run(["--help"])
        #expect(help.status == 0 && help.stdout.contains("Exit codes"))
        #expect(try StasisProcess.run(["image", "capture", "--help"]).stdout.contains("--dirty"))

        // Nothing above changed the store.
        let ls = try StasisProcess.run(["image", "ls", "--store", store, "--json"])
        #expect(((try? JSONSerialization.jsonObject(with: Data(ls.stdout.utf8))) as? [Any])?.count == 1)
        #expect(try StasisProcess.run(["verify", "--deep", "--store", store]).status == 0)
    }

    @Test("verify exits 2 naming the damaged chunk; materialize refuses and writes nothing")
    func corruption() throws {
        let dir = Scratch()
        let store = dir.file("store")
        _ = try StasisProcess.run(["init", "--store", store])
        let bytes = ImageBytes.make(pages: 200, seed: 9)
        ImageBytes.write(bytes, to: dir.file("img"))
        let id = try StasisProcess.run(["image", "capture", dir.file("img"), "--store", store]).stdout.trimmingCharacters(in: .newlines)
        let packs = try FileManager.default.subpathsOfDirectory(atPath: store + "/packs").filter { $0.hasSuffix(".pack") }
        let packPath = store + "/packs/" + packs[0]
        chmod(packPath, 0o644)
        var packBytes = ImageBytes.read(packPath)
        packBytes[100] ^= 0x01
        ImageBytes.write(packBytes, to: packPath)

        let verify = try StasisProcess.run(["verify", "--deep", "--store", store])
        #expect(verify.status == 2)
        #expect(verify.stdout.contains("corrupt-chunk"))
        #expect(verify.stdout.contains(id))
        let json = try StasisProcess.run(["verify", "--deep", "--store", store, "--json"])
        #expect(json.status == 2)
        let problems = try #require(json.json?["problems"] as? [[String: Any]])
        #expect(problems.first?["kind"] as? String == "corrupt-chunk")
        #expect((problems.first?["subject"] as? String)?.count == 64)

        let out = try StasisProcess.run(["image", "materialize", id, dir.file("out"), "--store", store])
        #expect(out.status == 1)
        // The chunk it names is one verify named (a flipped byte takes every chunk of its frame).
        let named = problems.compactMap { $0["subject"] as? String }
        #expect(out.stderr.contains("damaged") && named.contains { out.stderr.contains($0) }, "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out")))
    }
}
