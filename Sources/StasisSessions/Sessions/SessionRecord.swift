import Foundation

/// A session: a long-lived sandbox and everything that happened in it.
public struct SessionRecord: Sendable, Codable, Equatable {
    public var id: String
    public var createdAt: Date
    public var labels: [String: String]
    public var retention: RetentionPolicy?
    /// Number of events in its history.
    public var historySize: Int64
    public var checkpoints: Int
}
