import PropertyBased
import Testing
@testable import StasisSessions

/// Invariants checked: the lines a diff keeps or removes are exactly the first text's lines in
/// order, the lines it keeps or adds exactly the second's; line numbers count each side from 1;
/// the number of changed lines is no more than a naive LCS would give (the diff is minimal);
/// past the edit limit it gives up rather than answer late.
@Suite("line diff")
struct LineDiffTests {
    static func lcs(_ a: [String], _ b: [String]) -> Int {
        var row = [Int](repeating: 0, count: b.count + 1)
        for x in a {
            var diagonal = 0
            for (j, y) in b.enumerated() {
                let up = row[j + 1]
                row[j + 1] = x == y ? diagonal + 1 : max(row[j + 1], row[j])
                diagonal = up
            }
        }
        return row[b.count]
    }

    @Test("both sides come back, numbered, with a minimal number of changes")
    func property() async {
        await propertyCheck(count: 200, input: Gen.uint64()) { seed in
            var rng = Rng(state: seed)
            let alphabet = ["a", "b", "c", "<script>", "", "d e"]
            let a = (0..<rng.below(30)).map { _ in alphabet[rng.below(alphabet.count)] }
            let b = (0..<rng.below(30)).map { _ in alphabet[rng.below(alphabet.count)] }
            let d = try #require(LineDiff.of(a.map { $0 + "\n" }.joined(), b.map { $0 + "\n" }.joined()))
            #expect(d.lines.filter { $0.change != .added }.map(\.text) == a)
            #expect(d.lines.filter { $0.change != .removed }.map(\.text) == b)
            #expect(d.lines.compactMap(\.before) == Array(stride(from: 1, through: a.count, by: 1)))
            #expect(d.lines.compactMap(\.after) == Array(stride(from: 1, through: b.count, by: 1)))
            let changes = d.lines.filter { $0.change != .same }.count
            #expect(changes == a.count + b.count - 2 * Self.lcs(a, b))
        }
    }

    @Test("examples and the edit limit")
    func examples() throws {
        let d = try #require(LineDiff.of("one\ntwo\nthree\n", "one\n2\nthree\nfour"))
        #expect(d.lines.map { "\($0.change.rawValue):\($0.text)" } == ["same:one", "removed:two", "added:2", "same:three", "added:four"])
        #expect(LineDiff.of("", "")?.lines == [])
        let many = (0..<50).map { "x\($0)" }.joined(separator: "\n"), other = (0..<50).map { "y\($0)" }.joined(separator: "\n")
        #expect(LineDiff.of(many, other, maxEdits: 20) == nil)
        #expect(LineDiff.of(many, other, maxEdits: 100)?.lines.count == 100)
    }
}
