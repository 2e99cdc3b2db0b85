/// A line diff of two texts (Myers' O(ND) algorithm): the lines kept, removed and added, in
/// order, with their line numbers on each side. Used by the timeline's checkpoint diff view.
public struct LineDiff: Sendable, Codable, Equatable {
    public enum Change: String, Sendable, Codable { case same, removed, added }

    public struct Line: Sendable, Codable, Equatable {
        public var change: Change
        public var text: String
        /// 1-based line numbers on the before and after side (nil on the side it is absent from).
        public var before: Int?
        public var after: Int?
    }

    public var lines: [Line]

    /// The diff of `a` and `b` split at `\n`, or nil when they differ in more than `maxEdits`
    /// lines (the view then says so rather than draw a wall of changes).
    public static func of(_ a: String, _ b: String, maxEdits: Int = 4000) -> LineDiff? {
        let x = split(a), y = split(b)
        guard let script = editScript(x, y, maxEdits: maxEdits) else { return nil }
        var lines: [Line] = []
        var i = 0, j = 0
        for step in script {
            switch step {
            case .same: lines.append(Line(change: .same, text: x[i], before: i + 1, after: j + 1)); i += 1; j += 1
            case .removed: lines.append(Line(change: .removed, text: x[i], before: i + 1, after: nil)); i += 1
            case .added: lines.append(Line(change: .added, text: y[j], before: nil, after: j + 1)); j += 1
            }
        }
        return LineDiff(lines: lines)
    }

    static func split(_ text: String) -> [String] {
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if parts.last == "" { parts.removeLast() }
        return parts
    }

    /// Myers' greedy forward search; the furthest points of each round are kept (`trace[d]` is
    /// the state before round d) for the walk back from the end.
    static func editScript(_ x: [String], _ y: [String], maxEdits: Int) -> [Change]? {
        let n = x.count, m = y.count, limit = min(n + m, maxEdits)
        let offset = limit + 1
        var v = [Int](repeating: 0, count: 2 * limit + 3)
        var trace: [[Int]] = []
        var found = false
        search: for d in 0...limit {
            trace.append(v)
            for k in stride(from: -d, through: d, by: 2) {
                var px = (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1])) ? v[offset + k + 1] : v[offset + k - 1] + 1
                var py = px - k
                while px < n, py < m, x[px] == y[py] { px += 1; py += 1 }
                v[offset + k] = px
                if px >= n, py >= m { found = true; break search }
            }
        }
        guard found else { return nil }
        var steps: [Change] = []
        var px = n, py = m
        for d in stride(from: trace.count - 1, through: 0, by: -1) {
            let prev = trace[d]
            let k = px - py
            let down = k == -d || (k != d && prev[offset + k - 1] < prev[offset + k + 1])
            let prevK = down ? k + 1 : k - 1
            let prevX = prev[offset + prevK], prevY = prevX - prevK
            while px > prevX, py > prevY { steps.append(.same); px -= 1; py -= 1 }
            if d > 0 { steps.append(down ? .added : .removed) }
            px = prevX; py = prevY
        }
        return steps.reversed()
    }
}
