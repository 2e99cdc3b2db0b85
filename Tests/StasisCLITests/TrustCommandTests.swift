import Foundation
import Testing

/// Invariants checked, through the real binary, with the catalog edited by the `sqlite3` tool
/// exactly as an attacker with write access to it would:
/// - a record rewritten to name another memory image, and a flipped signature byte, make
///   `verify --deep` and `history verify` exit 2 naming the checkpoint, and `checkpoint show`
///   exit 1 naming it; a flipped blob manifest byte makes `verify` exit 2 naming the blob;
/// - a forged `checkpoint` event, a line that is not UTF-8 and a label with a newline are
///   refused with exit 1 naming the line or label;
/// - a key file readable by others is refused (exit 1 naming the file and `chmod 600`), and
///   `verify` reports it (exit 2);
/// - `key show` prints the key `bundle verify --key` pins;
/// - a store made under umask 000 is still private;
/// - no refused or verifying command changes the catalog.
@Suite("stasis: trust nothing on the way back")
struct TrustCommandTests {
    func out(_ r: StasisProcess.Result) -> String { r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }

    func sql(_ store: String, _ statement: String, postgres: String? = nil) throws -> String {
        let r = try CatalogShell.run(store, statement, postgres: postgres)
        #expect(r.status == 0, "sql: \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func dump(_ store: String) throws -> String { try CatalogShell.dump(store) }

    struct Setup {
        let dir: Scratch
        let store: String
        let env: [String: String]
        let session: String
        let first: String
        let second: String
    }

    func setup() throws -> Setup {
        let dir = Scratch()
        let store = dir.file("store")
        #expect(try StasisProcess.run(["init", "--store", store]).status == 0)
        let env = ["STASIS_STORE": store]
        let session = out(try StasisProcess.run(["session", "new"], environment: env))
        ImageBytes.write(ImageBytes.make(pages: 16, seed: 1), to: dir.file("m1"))
        ImageBytes.write(ImageBytes.make(pages: 16, seed: 2), to: dir.file("m2"))
        ImageBytes.write(ImageBytes.make(pages: 3, seed: 3), to: dir.file("state"))
        let first = out(try StasisProcess.run(["checkpoint", "create", session, "--memory", dir.file("m1"), "--state", dir.file("state")], environment: env))
        let second = out(try StasisProcess.run(["checkpoint", "create", session, "--memory", dir.file("m2")], environment: env))
        #expect(first.count == 64 && second.count == 64)
        // Untouched, it verifies (and the first `verify --deep` may add the LangGraph tables).
        #expect(try StasisProcess.run(["verify", "--deep"], environment: env).status == 0)
        return Setup(dir: dir, store: store, env: env, session: session, first: first, second: second)
    }

    func image(_ s: Setup, _ checkpoint: String) throws -> String {
        try sql(s.store, "SELECT target FROM checkpoint_refs WHERE checkpoint_id = '\(checkpoint)' AND name = 'memory'")
    }

    /// The verifiers exit 2 naming `subject`; `checkpoint show` exits 1 naming it; nothing changes.
    func expectDamage(_ s: Setup, checkpoint: String) throws {
        let before = try dump(s.store)
        let deep = try StasisProcess.run(["verify", "--deep"], environment: s.env)
        #expect(deep.status == 2 && deep.stdout.contains(checkpoint), "\(deep.stdout)\(deep.stderr)")
        let history = try StasisProcess.run(["history", "verify", s.session], environment: s.env)
        #expect(history.status == 2 && history.stdout.contains(checkpoint), "\(history.stdout)\(history.stderr)")
        let show = try StasisProcess.run(["checkpoint", "show", checkpoint], environment: s.env)
        #expect(show.status == 1 && show.stderr.contains(checkpoint) && show.stdout.isEmpty, "\(show.stderr)")
        let json = try StasisProcess.run(["checkpoint", "show", checkpoint, "--json"], environment: s.env)
        #expect(json.status == 1 && (json.json?["error"] as? String)?.contains(checkpoint) == true)
        #expect(try dump(s.store) == before)
    }

    @Test("a record rewritten to name another memory image")
    func rewrittenRecord() throws {
        let s = try setup()
        #expect(try StasisProcess.run(["checkpoint", "show", s.second], environment: s.env).status == 0)
        let m1 = try image(s, s.first), m2 = try image(s, s.second)
        _ = try sql(s.store, "UPDATE checkpoints SET record = replace(record, '\(m2)', '\(m1)') WHERE id = '\(s.second)'",
                    postgres: "UPDATE checkpoints SET record = convert_to(replace(convert_from(record, 'UTF8'), '\(m2)', '\(m1)'), 'UTF8') WHERE id = '\(s.second)'")
        try expectDamage(s, checkpoint: s.second)
        // Untouched checkpoints still show.
        #expect(try StasisProcess.run(["checkpoint", "show", s.first], environment: s.env).status == 0)
    }

    @Test("a flipped signature byte")
    func flippedSignature() throws {
        let s = try setup()
        var signature = Array(try sql(s.store, "SELECT hex(signature) FROM checkpoints WHERE id = '\(s.first)'",
                                      postgres: "SELECT encode(signature, 'hex') FROM checkpoints WHERE id = '\(s.first)'"))
        signature[7] = signature[7] == "0" ? "1" : "0"
        _ = try sql(s.store, "UPDATE checkpoints SET signature = X'\(String(signature))' WHERE id = '\(s.first)'",
                    postgres: "UPDATE checkpoints SET signature = decode('\(String(signature))', 'hex') WHERE id = '\(s.first)'")
        try expectDamage(s, checkpoint: s.first)
    }

    @Test("a flipped blob manifest byte")
    func flippedBlobManifest() throws {
        let s = try setup()
        let blob = try sql(s.store, "SELECT target FROM checkpoint_refs WHERE checkpoint_id = '\(s.first)' AND name = 'state'")
        var manifest = Array(try sql(s.store, "SELECT hex(manifest) FROM blobs WHERE id = '\(blob)'",
                                     postgres: "SELECT encode(manifest, 'hex') FROM blobs WHERE id = '\(blob)'"))
        manifest[81] = manifest[81] == "0" ? "1" : "0"      // byte 40: inside the first chunk id
        _ = try sql(s.store, "UPDATE blobs SET manifest = X'\(String(manifest))' WHERE id = '\(blob)'",
                    postgres: "UPDATE blobs SET manifest = decode('\(String(manifest))', 'hex') WHERE id = '\(blob)'")
        let before = try dump(s.store)
        let verify = try StasisProcess.run(["verify"], environment: s.env)
        #expect(verify.status == 2 && verify.stdout.contains(blob), "\(verify.stdout)")
        let json = try StasisProcess.run(["verify", "--deep", "--json"], environment: s.env)
        #expect(json.status == 2 && json.stdout.contains("\"affectedBlobs\"") && json.stdout.contains(blob))
        let get = try StasisProcess.run(["blob", "get", blob, "-o", s.dir.file("out")], environment: s.env)
        #expect(get.status == 1)
        #expect(try dump(s.store) == before)
    }

    @Test("forged events, non-UTF-8 input and bad labels are refused; nothing is added")
    func faithfulHistory() throws {
        let s = try setup()
        let before = try dump(s.store)
        let forged = String(repeating: "ab", count: 32)
        let events = s.dir.file("forged.jsonl")
        FileManager.default.createFile(atPath: events, contents: Data("""
            {"kind":"note","text":"fine"}

            {"kind":"checkpoint","checkpoint":"\(forged)"}
            """.utf8))
        let append = try StasisProcess.runShell("\(StasisProcess.binary) history append \(s.session) < \(events)", environment: s.env)
        #expect(append.status == 1 && append.stderr.contains("line 3") && append.stderr.contains(forged), "\(append.stderr)")
        let restore = try StasisProcess.runShell("echo '{\"kind\":\"restore\",\"checkpoint\":\"\(forged)\"}' | \(StasisProcess.binary) history append \(s.session) --json", environment: s.env)
        #expect(restore.status == 1 && (restore.json?["error"] as? String)?.contains("line 1") == true)

        let bytes = s.dir.file("latin1.jsonl")
        FileManager.default.createFile(atPath: bytes, contents: Data(Array("{\"kind\":\"note\",\"text\":\"ok\"}\n{\"kind\":\"note\",\"text\":\"caf".utf8) + [0xE9] + Array("\"}\n".utf8)))
        let latin1 = try StasisProcess.runShell("\(StasisProcess.binary) history append \(s.session) < \(bytes)", environment: s.env)
        #expect(latin1.status == 1 && latin1.stderr.contains("line 2") && latin1.stderr.contains("UTF-8"), "\(latin1.stderr)")

        let label = try StasisProcess.run(["session", "new", "--label", "agent=a\nforged line"], environment: s.env)
        #expect(label.status == 1 && label.stderr.contains("--label agent"), "\(label.stderr)")
        let checkpointLabel = try StasisProcess.run(["checkpoint", "create", s.session, "--memory", s.dir.file("m1"), "--label", "step=1\u{1B}[2J"], environment: s.env)
        #expect(checkpointLabel.status == 1)
        #expect(try dump(s.store) == before)

        // A restore of one of its own checkpoints is fine.
        let ok = try StasisProcess.runShell("echo '{\"kind\":\"restore\",\"checkpoint\":\"\(s.first)\"}' | \(StasisProcess.binary) history append \(s.session)", environment: s.env)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try StasisProcess.run(["history", "verify", s.session], environment: s.env).status == 0)
    }

    @Test("a key file readable by others is refused")
    func looseKey() throws {
        let s = try setup()
        let key = s.store + "/keys/store.ed25519"
        #expect(chmod(key, 0o644) == 0)
        let before = try dump(s.store)
        let create = try StasisProcess.run(["checkpoint", "create", s.session, "--memory", s.dir.file("m1")], environment: s.env)
        #expect(create.status == 1 && create.stderr.contains(key) && create.stderr.contains("chmod 600"), "\(create.stderr)")
        let append = try StasisProcess.runShell("echo '{\"kind\":\"note\",\"text\":\"x\"}' | \(StasisProcess.binary) history append \(s.session)", environment: s.env)
        #expect(append.status == 1 && append.stderr.contains("chmod 600"))
        #expect(try StasisProcess.run(["key", "show"], environment: s.env).status == 1)
        let verify = try StasisProcess.run(["verify"], environment: s.env)
        #expect(verify.status == 2 && verify.stdout.contains("store-key") && verify.stdout.contains("chmod 600"), "\(verify.stdout)")
        #expect(try dump(s.store) == before)
        #expect(chmod(key, 0o600) == 0)
        #expect(try StasisProcess.run(["checkpoint", "create", s.session, "--memory", s.dir.file("m1")], environment: s.env).status == 0)
    }

    @Test("key show prints the key that bundle verify --key pins")
    func keyShow() throws {
        let s = try setup()
        let key = out(try StasisProcess.run(["key", "show"], environment: s.env))
        #expect(key.count == 64 && key.allSatisfy(\.isHexDigit))
        #expect(try StasisProcess.run(["key", "show", "--json"], environment: s.env).json?["publicKey"] as? String == key)
        let bundle = s.dir.file("s.bundle")
        #expect(try StasisProcess.run(["bundle", "export", s.session, "-o", bundle], environment: s.env).status == 0)
        #expect(try StasisProcess.run(["bundle", "verify", bundle, "--key", key]).status == 0)
        let other = s.dir.file("other")
        _ = try StasisProcess.run(["init", "--store", other])
        let otherKey = out(try StasisProcess.run(["key", "show", "--store", other]))
        #expect(otherKey != key)
        #expect(try StasisProcess.run(["bundle", "verify", bundle, "--key", otherKey]).status == 2)
        // Imported into another store, its checkpoints verify with the key that store accepted.
        #expect(try StasisProcess.run(["bundle", "import", bundle, "--store", other, "--key", key]).status == 0)
        #expect(try StasisProcess.run(["checkpoint", "show", s.second, "--store", other]).status == 0)
        #expect(try StasisProcess.run(["verify", "--deep", "--store", other]).status == 0)
    }

    @Test("a store made under umask 000 is private")
    func privateStore() throws {
        let dir = Scratch()
        let store = dir.file("store")
        #expect(try StasisProcess.runShell("umask 000; \(StasisProcess.binary) init --store \(store)").status == 0)
        func mode(_ path: String) throws -> Int {
            ((try FileManager.default.attributesOfItem(atPath: path))[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        for d in ["", "/packs", "/manifests", "/tmp", "/keys"] { #expect(try mode(store + d) == 0o700, "\(d)") }
        for f in ["/catalog.sqlite", "/lock", "/keys/store.ed25519"] { #expect(try mode(store + f) == 0o600, "\(f)") }
        // After work under the same umask, nothing in the store is writable by others.
        let env = ["STASIS_STORE": store]
        let session = out(try StasisProcess.run(["session", "new"], environment: env))
        ImageBytes.write(ImageBytes.make(pages: 8, seed: 4), to: dir.file("m"))
        #expect(try StasisProcess.runShell("umask 000; \(StasisProcess.binary) checkpoint create \(session) --memory \(dir.file("m"))", environment: env).status == 0)
        let loose = try StasisProcess.runShell("find \(store) -perm /022")
        #expect(loose.stdout.isEmpty, "\(loose.stdout)")
        // Nor readable: the fan-out directories of packs and manifests are the owner's too.
        let readable = try StasisProcess.runShell("find \(store) -type d -perm /077")
        #expect(readable.stdout.isEmpty, "\(readable.stdout)")
        #expect(try mode(store) == 0o700)
    }
}
