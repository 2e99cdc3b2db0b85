import StasisStore

/// What the session layer refuses or fails with; every message names the session, checkpoint,
/// line or field and says what to do.
public enum HistoryError: Error, Sendable, CustomStringConvertible {
    case store(StoreError)
    case badEvent(line: Int, message: String)
    case sessionNotFound(String)
    case checkpointNotFound(String)
    case ambiguous(kind: String, prefix: String, matches: [String])
    case badArgument(field: String, message: String)
    case eventNotFound(session: String, seq: Int64, size: Int64)
    case hasDescendants(checkpoint: String, children: [String])
    case badBundle(path: String, message: String)
    /// A stored event that does not decode (an unknown kind from a newer stasis, or an edited
    /// row): shown as an error, never left out of what is listed.
    case unreadableEvent(session: String, seq: Int64?)

    public var description: String {
        switch self {
        case .store(let e): return e.description
        case .badEvent(let line, let message): return "event on line \(line): \(message); nothing was appended"
        case .sessionNotFound(let id): return "no session '\(id)' in this store: `stasis session ls` lists them"
        case .checkpointNotFound(let id): return "no checkpoint '\(id)' in this store: `stasis checkpoint ls SESSION` lists them"
        case .ambiguous(let kind, let prefix, let matches):
            return "\(kind) prefix '\(prefix)' matches \(matches.count) \(kind)s (\(matches.prefix(3).joined(separator: ", "))…): give more characters"
        case .badArgument(let field, let message): return "\(field): \(message)"
        case .eventNotFound(let session, let seq, let size):
            return "session \(session) has no event \(seq): its history has \(size) events (0…\(max(0, size - 1)))"
        case .hasDescendants(let checkpoint, let children):
            return "checkpoint \(checkpoint) has \(children.count) checkpoint(s) built on it (\(children.prefix(3).joined(separator: ", "))): remove them first, or pass --cascade"
        case .badBundle(let path, let message): return "bundle '\(path)': \(message)"
        case .unreadableEvent(let session, let seq):
            return "event \(seq.map { "at position \($0)" } ?? "") of session \(session) cannot be read (an unknown kind, from a newer stasis, or an edited row): nothing is shown rather than a history with a gap; run `stasis history verify \(session)`"
        }
    }
}

extension HistoryError {
    static func wrap<T>(_ body: () throws(StoreError) -> T) throws(HistoryError) -> T {
        do { return try body() } catch { throw .store(error) }
    }
}
