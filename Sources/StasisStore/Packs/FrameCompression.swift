/// What a store compresses new frames with: a store setting (`stasis init --compression`), kept
/// in `store_meta.compression`. Every frame records its own codec (Formats/pack.md), so packs
/// written under either setting, and by older versions, are read alike.
///
/// zstd at level 1 is the default: on real guest memory (1 GiB, `Tools/bench/image-store.sh
/// --data real`, three runs) it stores a fifth less than LZ4 (282 MiB against 352 after a full
/// and an incremental capture; casync 332) for a capture 1.1× and a restore 1.02× LZ4's wall time
/// — the capture reads and hashes, the restore hashes and writes, and those do not change — at
/// about 1.3× the CPU. LZ4 (`--compression lz4`) is for hosts short of CPU rather than storage.
public enum FrameCompression: Sendable, Equatable, CustomStringConvertible {
    case lz4
    /// zstd at `level` (1 … 19).
    case zstd(level: Int)

    public static let `default` = FrameCompression.zstd(level: defaultZstdLevel)
    public static let defaultZstdLevel = 1
    public static let zstdLevels = 1...19

    /// Parses `lz4`, `zstd` or `zstd:LEVEL`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.lowercased().split(separator: ":", maxSplits: 1).map(String.init)
        switch (parts.first, parts.count) {
        case ("lz4", 1): self = .lz4
        case ("zstd", 1): self = .zstd(level: Self.defaultZstdLevel)
        case ("zstd", 2):
            guard let level = Int(parts[1]), Self.zstdLevels.contains(level) else { return nil }
            self = .zstd(level: level)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .lz4: "lz4"
        case .zstd(let level): level == Self.defaultZstdLevel ? "zstd" : "zstd:\(level)"
        }
    }
}
