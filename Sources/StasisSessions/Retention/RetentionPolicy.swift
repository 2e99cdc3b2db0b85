import StasisJSON

/// Which checkpoints of a session `stasis prune` keeps (like restic's `forget --keep-*`): the
/// newest `keepLast`, plus the newest checkpoint of each of the `keepHourly` most recent hours and
/// `keepDaily` most recent days (UTC) that have one. Ancestors of a kept checkpoint are kept too.
public struct RetentionPolicy: Sendable, Codable, Equatable {
    public var keepLast: Int?
    public var keepHourly: Int?
    public var keepDaily: Int?

    public init(keepLast: Int? = nil, keepHourly: Int? = nil, keepDaily: Int? = nil) {
        self.keepLast = keepLast; self.keepHourly = keepHourly; self.keepDaily = keepDaily
    }

    public var isEmpty: Bool { keepLast == nil && keepHourly == nil && keepDaily == nil }

    var json: JSONValue {
        var o: [String: JSONValue] = [:]
        if let keepLast { o["keep_last"] = .int(Int64(keepLast)) }
        if let keepHourly { o["keep_hourly"] = .int(Int64(keepHourly)) }
        if let keepDaily { o["keep_daily"] = .int(Int64(keepDaily)) }
        return .object(o)
    }

    init?(json text: String) {
        guard let o = (try? JSONValue.parse(text))?.objectValue else { return nil }
        keepLast = o["keep_last"]?.intValue.map(Int.init)
        keepHourly = o["keep_hourly"]?.intValue.map(Int.init)
        keepDaily = o["keep_daily"]?.intValue.map(Int.init)
    }

    /// The ids to keep among `checkpoints` (any order), by this policy alone.
    func select(_ checkpoints: [Checkpoint]) -> Set<String> {
        let newest = checkpoints.sorted { ($0.record.createdAt, $0.id) > ($1.record.createdAt, $1.id) }
        var keep = Set(newest.prefix(max(0, keepLast ?? 0)).map(\.id))
        func perBucket(_ count: Int?, seconds: Int64) {
            guard let count, count > 0 else { return }
            var seen = Set<Int64>()
            for c in newest {
                let bucket = c.record.createdAt / 1_000_000_000 / seconds
                if seen.count >= count && !seen.contains(bucket) { break }
                if seen.insert(bucket).inserted { keep.insert(c.id) }
            }
        }
        perBucket(keepHourly, seconds: 3600)
        perBucket(keepDaily, seconds: 86400)
        return keep
    }
}
