/// One step of a replay: what a terminal showed, and when (seconds since the session's first
/// replayed event).
public struct ReplayFrame: Sendable, Equatable {
    public var seq: Int64
    public var kind: EventKind
    public var offset: Double
    /// Terminal text (CRLF line ends; ANSI styling when `styled`).
    public var text: String
}
