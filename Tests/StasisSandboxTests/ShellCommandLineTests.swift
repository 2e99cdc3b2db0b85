import Foundation
import PropertyBased
import Testing
@testable import StasisSandbox

/// Invariant checked: a real POSIX shell (the host's /bin/sh, a shell of the same family as the
/// guest's) parses `ShellCommandLine.quoting(argv)` back into exactly `argv`, for any words —
/// spaces, quotes, `$(…)`, globs, newlines, backslashes, non-ASCII, empty words.
@Suite("Exec argv reaches the program exactly")
struct ShellCommandLineTests {
    /// The words `/bin/sh` hands to a program for `line`, NUL-separated by printf.
    func parsed(_ line: String) throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "printf '%s\\0' " + line]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        var words = String(decoding: data, as: UTF8.self).components(separatedBy: "\0")
        words.removeLast()
        return words
    }

    @Test("words a shell would split, expand or glob")
    func examples() throws {
        let cases: [[String]] = [
            ["echo", "one two"], ["touch", "/tmp/a b"], ["echo", "$(uname)"], ["echo", "*"], ["echo", "it's"],
            ["echo", ""], ["echo", "a\nb"], ["echo", "back\\slash"], ["echo", "`id`", "$HOME", "~", "a;b", "a|b", "a&b", "#x"],
            ["echo", "é ü 日本"], ["VAR=1"], ["--timeout", "5"],
        ]
        for argv in cases { #expect(try parsed(ShellCommandLine.quoting(argv)) == argv) }
        // Plain words stay readable in the history.
        #expect(ShellCommandLine.quoting(["ls", "-la", "/mnt/disk"]) == "ls -la /mnt/disk")
        #expect(ShellCommandLine.quoting(["sh", "-c", "echo one two"]) == "sh -c 'echo one two'")
    }

    @Test("any argv round-trips through /bin/sh")
    func anyWords() async throws {
        let alphabet = Array("ab z'\"\\$`(){}[]*?~#;&|<>!\n\t=%@é日")
        await propertyCheck(count: 150, input: Gen.uint64()) { seed in
            var random = SeededWords(seed: seed)
            let argv = (0..<random.next(upTo: 5) + 1).map { _ in
                String((0..<random.next(upTo: 8)).map { _ in alphabet[random.next(upTo: alphabet.count)] })
            }
            let back = try? parsed(ShellCommandLine.quoting(argv))
            #expect(back == argv, "argv \(argv)")
        }
    }
}

/// SplitMix64, so that a failing seed reproduces the same words.
struct SeededWords {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(upTo bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
