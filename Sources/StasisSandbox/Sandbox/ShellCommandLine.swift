/// A command line for the guest's shell that runs exactly the given argv: every word reaches the
/// program as written — no word splitting, no globbing, no `$(…)` or variable expansion in the
/// guest. Words made only of characters no shell treats specially stay as they are (so the
/// history reads naturally); every other word is single-quoted, with `'` written as `'\''`.
public enum ShellCommandLine {
    public static func quoting(_ argv: [String]) -> String {
        argv.map(quote).joined(separator: " ")
    }

    static func quote(_ word: String) -> String {
        if !word.isEmpty && word.unicodeScalars.allSatisfy(isPlain) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    private static func isPlain(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", "_", ".", "/", ",", ":", "+", "@", "%": return true
        // `=` only matters in a shell as the first word's assignment; quoting it costs nothing.
        default: return false
        }
    }
}
