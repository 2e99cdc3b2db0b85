import Foundation
import Testing

/// What users of docker and restic reach for, through the real binary: `--version`; a mistyped
/// command gets the nearest one suggested (exit 64); with --json every failure — a bad argument
/// as much as a failed operation — is one JSON object on stdout with a stable `code`.
@Suite("stasis command habits")
struct CommandHabitsTests {
    @Test("--version prints the release")
    func version() throws {
        let r = try StasisProcess.run(["--version"])
        #expect(r.status == 0 && r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3, "\(r.stdout)")
    }

    @Test("a mistyped command gets a suggestion; an unknown one points to --help")
    func suggestion() throws {
        let top = try StasisProcess.run(["sandbx", "ls"])
        #expect(top.status == 64 && top.stderr.contains("did you mean `stasis sandbox`?"), "\(top.stderr)")
        let nested = try StasisProcess.run(["sandbox", "stpo", "S"])
        #expect(nested.status == 64 && nested.stderr.contains("did you mean `stasis sandbox stop`?"), "\(nested.stderr)")
        let far = try StasisProcess.run(["xyzzy"])
        #expect(far.status == 64 && far.stderr.contains("`stasis --help` lists the commands") && !far.stderr.contains("did you mean"))
    }

    @Test("--json errors carry a stable code: usage for bad arguments, the library's case otherwise")
    func jsonCodes() throws {
        let dir = Scratch()
        let usage = try StasisProcess.run(["exec", "--json"])
        #expect(usage.status == 64 && usage.json?["code"] as? String == "usage" && (usage.json?["error"] as? String)?.contains("SESSION") == true)
        let noStore = try StasisProcess.run(["sandbox", "ls", "--store", dir.file("absent"), "--json"])
        #expect(noStore.status == 1 && noStore.json?["code"] as? String == "store.store_not_found", "\(noStore.stdout)")
        let store = dir.file("store")
        #expect(try StasisProcess.run(["init", "--store", store]).status == 0)
        let noSession = try StasisProcess.run(["history", "show", "0123456789ab", "--store", store, "--json"])
        #expect(noSession.status == 1 && noSession.json?["code"] as? String == "history.session_not_found", "\(noSession.stdout)")
        let noSandbox = try StasisProcess.run(["exec", "nosuch", "--store", store, "--json", "--", "true"])
        #expect(noSandbox.status == 1 && noSandbox.json?["code"] as? String == "sandbox.sandbox_not_found", "\(noSandbox.stdout)")
        let cp = try StasisProcess.run(["cp", "a", "b", "--store", store, "--json"])
        #expect(cp.status == 64 && cp.json?["code"] as? String == "usage")
    }
}
