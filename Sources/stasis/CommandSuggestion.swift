import ArgumentParser

/// "Did you mean …?" for a mistyped command (`stasis sandbx ls`, `stasis sandbox stpo`): the
/// known subcommand nearest by edit distance, when it is near enough to be a typo.
enum CommandSuggestion {
    static func hint(for arguments: [String], message: String) -> String? {
        // Walk the words that name commands, down the tree, until one is not a command.
        var command: any ParsableCommand.Type = Stasis.self
        var path = ["stasis"]
        for word in arguments where !word.hasPrefix("-") {
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty else { return nil }
            if let next = subcommands.first(where: { $0._commandName == word }) {
                command = next
                path.append(word)
                continue
            }
            guard message.contains(word) else { return nil }
            let names = subcommands.map { $0._commandName }
            let best = names.map { ($0, distance($0, word)) }.min { $0.1 < $1.1 }
            guard let best, best.1 <= max(1, min(best.0.count, word.count) / 3) else {
                return "`\((path + ["--help"]).joined(separator: " "))` lists the commands"
            }
            return "did you mean `\((path + [best.0]).joined(separator: " "))`?"
        }
        return nil
    }

    /// Levenshtein distance, with a swap of two neighbours counted as one edit.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}
