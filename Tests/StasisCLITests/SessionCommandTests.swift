import Foundation
import Testing

/// Invariants checked, through the real binary: sessions, checkpoints and history work end to
/// end with --json; `history verify` exits 0 on an untouched history and 2 naming the position
/// after tampering; `history prove` gives a verified proof; the asciicast export plays in
/// asciinema (a standard player); `replay` prints the session; `bundle export|verify|import`
/// round-trips into another store and `bundle verify` exits 2 on a damaged file; `prune` and
/// `checkpoint rm` respect what builds on a checkpoint; bad input exits 1 or 64 and adds nothing.
@Suite("stasis session, checkpoint, history, replay, bundle")
struct SessionCommandTests {
    func out(_ r: StasisProcess.Result) -> String { r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test("the whole session workflow")
    func workflow() throws {
        let dir = Scratch()
        let store = dir.file("store")
        #expect(try StasisProcess.run(["init", "--store", store]).status == 0)
        let env = ["STASIS_STORE": store]
        let session = out(try StasisProcess.run(["session", "new", "--label", "agent=test"], environment: env))
        #expect(session.count == 32)

        let events = """
            {"kind":"command.started","command":"echo hello","time":"2026-11-29T01:00:00Z"}
            {"kind":"output","stream":"stdout","data":"hello\\n","time":"2026-11-29T01:00:00.5Z"}
            {"kind":"command.exited","code":0,"duration_ms":500,"time":"2026-11-29T01:00:01Z"}
            {"kind":"tool.call","name":"read_file","arguments":{"path":"/etc/hostname"}}
            {"kind":"message","role":"assistant","content":"done"}
            """
        let appendFile = dir.file("events.jsonl")
        FileManager.default.createFile(atPath: appendFile, contents: Data(events.utf8))
        let appended = try StasisProcess.runShell("\(StasisProcess.binary) history append \(session) --json < \(appendFile)", environment: env)
        #expect(appended.json?["count"] as? Int == 5)

        ImageBytes.write(ImageBytes.make(pages: 64, seed: 1), to: dir.file("mem"))
        let c1 = try StasisProcess.run(["checkpoint", "create", session, "--memory", dir.file("mem"), "--config", dir.file("events.jsonl"), "--json"], environment: env)
        let cp1 = try #require(c1.json?["id"] as? String)
        #expect(c1.json?["historySize"] as? Int == 5)
        ImageBytes.write(ImageBytes.make(pages: 64, seed: 2), to: dir.file("mem"))
        let cp2 = out(try StasisProcess.run(["checkpoint", "create", session, "--memory", dir.file("mem")], environment: env))

        let show = try StasisProcess.run(["history", "show", session, "--last", "2", "--json"], environment: env)
        #expect(show.stdout.split(separator: "\n").count == 2)
        #expect(try StasisProcess.run(["history", "show", session, "--kind", "checkpoint"], environment: env).stdout.contains(cp1))
        #expect(try StasisProcess.run(["history", "verify", session], environment: env).status == 0)
        let proof = try StasisProcess.run(["history", "prove", session, "2", "--json"], environment: env)
        #expect(proof.json?["verified"] as? Bool == true && proof.json?["checkpoint"] as? String == cp2)   // the latest that holds it

        let replay = try StasisProcess.run(["replay", session, "--speed", "0", "--plain"], environment: env)
        #expect(replay.stdout.contains("$ echo hello") && replay.stdout.contains("hello") && replay.stdout.contains("checkpoint \(cp1.prefix(12))"))
        let cast = dir.file("session.cast")
        #expect(try StasisProcess.run(["history", "export", session, "--format", "asciicast", "-o", cast], environment: env).status == 0)
        let header = String(decoding: ImageBytes.read(cast), as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        #expect(header.contains("\"version\":2"))
        if let player = ["/usr/local/bin/asciinema", "/usr/bin/asciinema", NSHomeDirectory() + "/.pyenv/shims/asciinema"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            let played = try StasisProcess.runShell("\(player) cat \(cast)")
            #expect(played.status == 0 && played.stdout.contains("echo hello"), "asciinema cat: \(played.stderr)")
        }

        let diff = try StasisProcess.run(["diff", cp1, cp2, "--json"], environment: env)
        #expect(diff.status == 0 && diff.stdout.contains("\"changedChunks\""))

        // Bundle to another store.
        let bundle = dir.file("s.bundle")
        #expect(try StasisProcess.run(["bundle", "export", session, "-o", bundle], environment: env).status == 0)
        #expect(try StasisProcess.run(["bundle", "verify", bundle]).status == 0)
        let other = dir.file("other")
        _ = try StasisProcess.run(["init", "--store", other])
        #expect(try StasisProcess.run(["bundle", "import", bundle, "--store", other]).status == 0)
        #expect(try StasisProcess.run(["history", "verify", session, "--store", other]).status == 0)
        var damaged = ImageBytes.read(bundle)
        damaged[damaged.count / 2] ^= 1
        ImageBytes.write(damaged, to: dir.file("bad.bundle"))
        let bad = try StasisProcess.run(["bundle", "verify", dir.file("bad.bundle")])
        #expect(bad.status == 2 && bad.stderr.contains("bad.bundle"))

        // Removal and pruning respect what builds on a checkpoint.
        let rm = try StasisProcess.run(["checkpoint", "rm", cp1], environment: env)
        #expect(rm.status == 1 && rm.stderr.contains("--cascade"))
        let prune = try StasisProcess.run(["prune", session, "--keep-last", "1", "--json"], environment: env)
        #expect(prune.status == 0)
        #expect(try StasisProcess.run(["checkpoint", "ls", session, "--json"], environment: env).stdout.contains(cp2))

        // Tampering: edit one event in the catalog, verify names it.
        let tamper = try CatalogShell.run(store, "UPDATE events SET body = replace(body, 'hello', 'HELLO') WHERE seq = 1",
            postgres: "UPDATE events SET body = convert_to(replace(convert_from(body, 'UTF8'), 'hello', 'HELLO'), 'UTF8') WHERE seq = 1")
        #expect(tamper.status == 0, "\(tamper.stderr)")
        let verify = try StasisProcess.run(["history", "verify", session, "--json"], environment: env)
        #expect(verify.status == 2)
        #expect(verify.json?["firstBadSeq"] as? Int == 1)
    }

    @Test("namespaced kinds: history append takes x-NAME.kind, show, replay and verify cover them; a malformed one exits 1")
    func namespacedKinds() throws {
        let dir = Scratch()
        let store = dir.file("store")
        _ = try StasisProcess.run(["init", "--store", store])
        let env = ["STASIS_STORE": store]
        let session = out(try StasisProcess.run(["session", "new"], environment: env))
        let append = try StasisProcess.runShell("printf '%s\\n' '{\"kind\":\"note\",\"text\":\"start\"}' '{\"kind\":\"x-langgraph.step\",\"node\":\"agent\",\"step\":1}' | \(StasisProcess.binary) history append \(session)", environment: env)
        #expect(append.status == 0, "\(append.stderr)")
        let shown = try StasisProcess.run(["history", "show", session, "--kind", "x-langgraph.step"], environment: env)
        #expect(shown.status == 0 && shown.stdout.contains("x-langgraph.step") && shown.stdout.contains("node=agent step=1") && !shown.stdout.contains("start"))
        let replay = try StasisProcess.run(["replay", session], environment: env)
        #expect(replay.status == 0 && replay.stdout.contains("[x-langgraph.step] node=agent step=1"), "\(replay.stdout)\(replay.stderr)")
        #expect(try StasisProcess.run(["history", "verify", session], environment: env).status == 0)
        let bad = try StasisProcess.runShell("printf '%s\\n' '{\"kind\":\"x-LangGraph.step\"}' | \(StasisProcess.binary) history append \(session)", environment: env)
        #expect(bad.status == 1 && bad.stderr.contains("line 1") && bad.stderr.contains("x-NAME.kind"))
        #expect(try StasisProcess.run(["history", "show", session, "--kind", "x-Bad"], environment: env).status == 64)
    }

    @Test("bad input: exit codes, messages, nothing added")
    func badInput() throws {
        let dir = Scratch()
        let store = dir.file("store")
        _ = try StasisProcess.run(["init", "--store", store])
        let env = ["STASIS_STORE": store]
        let session = out(try StasisProcess.run(["session", "new"], environment: env))
        let badLine = try StasisProcess.runShell("printf '%s\\n' '{\"kind\":\"note\",\"text\":\"ok\"}' '{\"kind\":\"note\"}' | \(StasisProcess.binary) history append \(session)", environment: env)
        #expect(badLine.status == 1 && badLine.stderr.contains("line 2") && badLine.stderr.contains("\"text\""))
        #expect(try StasisProcess.run(["history", "show", session, "--json"], environment: env).stdout.isEmpty)
        #expect(try StasisProcess.run(["history", "show", "ffff0000"], environment: env).status == 1)
        #expect(try StasisProcess.run(["history", "show", session, "--kind", "nope"], environment: env).status == 64)
        #expect(try StasisProcess.run(["checkpoint", "create", session], environment: env).status == 1)
        #expect(try StasisProcess.run(["checkpoint", "create", session, "--memory", dir.file("missing")], environment: env).status == 1)
        #expect(try StasisProcess.run(["checkpoint", "create", session, "--disk", "nodelimiter"], environment: env).status == 64)
        #expect(try StasisProcess.run(["history", "prove", session, "0"], environment: env).status == 1)
        #expect(try StasisProcess.run(["bundle", "verify", dir.file("nothing.bundle")]).status == 2)
        #expect(try StasisProcess.run(["session", "rm", "zz"], environment: env).status == 1)
        let ls = try StasisProcess.run(["checkpoint", "ls", session, "--json"], environment: env)
        #expect(ls.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]" || ls.stdout.contains("[]") || ls.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
    }
}

extension StasisProcess {
    /// Runs a shell command line (for pipes and redirections).
    static func runShell(_ command: String, environment: [String: String] = [:]) throws -> Result {
        finish(try start(["-c", command], environment: environment, executable: "/bin/sh"))
    }
}
