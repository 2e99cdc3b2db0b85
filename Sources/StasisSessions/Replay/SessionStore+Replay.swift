import StasisJSON

extension SessionStore {
    /// Replay frames of a session, from the start or from a checkpoint's position.
    public func replayFrames(_ sessionIDOrPrefix: String, from checkpoint: String? = nil,
                             renderer: ReplayRenderer = ReplayRenderer()) throws(HistoryError) -> [ReplayFrame] {
        let session = try resolveSession(sessionIDOrPrefix)
        var since: Int64? = nil
        if let checkpoint {
            let c = try self.checkpoint(checkpoint)
            guard c.record.session == session else {
                throw .badArgument(field: "--from", message: "checkpoint \(c.id) belongs to session \(c.record.session), not \(session)")
            }
            since = c.record.historySize
        }
        let events = try self.events(session, EventQuery(since: since))
        return renderer.frames(events) { value in (try? self.resolvedString(value)) ?? nil }
    }

    /// The session as an asciicast v2 recording.
    public func asciicast(_ sessionIDOrPrefix: String, from checkpoint: String? = nil) throws(HistoryError) -> String {
        let session = try resolveSession(sessionIDOrPrefix)
        let frames = try replayFrames(session, from: checkpoint)
        let start = try events(session, EventQuery(limit: 1)).first?.time ?? 0
        return Asciicast.encode(frames, title: "stasis session \(session)", startTime: start)
    }
}
