/// One way in which an entry present in both images differs. Raw values are the JSON spelling.
public enum Ext4Change: String, Sendable, Codable, CaseIterable {
    /// File type changed (e.g. a file replaced by a directory); no other change is reported then.
    case kind
    /// Permission bits (including set-uid, set-gid, sticky).
    case mode
    /// Owner or group id.
    case owner
    case size
    case mtime
    case linkTarget
    /// At least one of the file's data blocks, before or after, lies in a changed disk region.
    /// Coarse regions (whole chunks) can make this a false positive: see
    /// `Ext4Diff.dropUnchangedContent`.
    case content
}
