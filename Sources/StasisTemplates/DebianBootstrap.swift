import Crypto
import Foundation

/// Debian root trees made by `debootstrap --variant=minbase`, kept in a cache folder keyed by
/// suite and packages (`debian-SUITE-HASH/tree`), so builds, tests and the demo reuse one.
enum DebianBootstrap {
    static func key(suite: String, packages: [String]) -> String {
        let text = "minbase|\(suite)|\(packages.sorted().joined(separator: ","))"
        let digest = SHA256.hash(data: Data(text.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
        return "debian-\(suite)-\(digest)"
    }

    /// The cached tree for `suite` and `packages`, made first if missing. A partial tree (an
    /// interrupted debootstrap) is never used: the tree is renamed in only once complete.
    static func tree(suite: String, packages: [String], mirror: String, cache: String,
                     log: (String) -> Void) throws(TemplateError) -> String {
        guard suite.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }), !suite.isEmpty else {
            throw .badImage(source: "--debian \(suite)", message: "a Debian suite is a name like bookworm")
        }
        for p in packages where !p.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || "+-.".contains($0)) }) || p.isEmpty {
            throw .badImage(source: "--packages", message: "'\(p)' is not a Debian package name")
        }
        let dir = cache + "/" + key(suite: suite, packages: packages)
        let tree = dir + "/tree"
        if FileManager.default.fileExists(atPath: dir + "/complete") { return tree }
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw .io("create \(dir)", EACCES)
        }
        let partial = dir + "/tree.partial"
        try? FileManager.default.removeItem(atPath: partial)
        try? FileManager.default.removeItem(atPath: tree)
        log("debootstrap \(suite) with \(packages.isEmpty ? "no extra packages" : packages.joined(separator: ",")) from \(mirror) (minutes, once; cached in \(dir))")
        var args = ["--variant=minbase"]
        if !packages.isEmpty { args.append("--include=" + packages.joined(separator: ",")) }
        args += [suite, partial, mirror]
        try ToolProcess.run("debootstrap", args, hint: "install it with `apt-get install debootstrap`")
        // What apt downloaded is not part of the environment.
        for sub in ["var/cache/apt/archives", "var/lib/apt/lists"] {
            let d = partial + "/" + sub
            for n in (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? [] where n.hasSuffix(".deb") || n.contains("_") {
                try? FileManager.default.removeItem(atPath: d + "/" + n)
            }
        }
        guard rename(partial, tree) == 0 else { throw .io("rename \(partial)", errno) }
        FileManager.default.createFile(atPath: dir + "/complete", contents: Data("\(suite) \(packages.joined(separator: ","))\n".utf8))
        return tree
    }
}
