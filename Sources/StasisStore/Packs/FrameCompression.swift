/// What a store compresses new frames with: a store setting (`stasis init --compression`), kept
/// in `store_meta.compression`. Every frame records its own codec (Formats/pack.md), so packs
/// written under either setting, and by older versions, are read alike.
///
/// LZ4 is the default because the capture and restore targets need its speed; zstd stores about
/// a fifth less on real guest memory at roughly two thirds of LZ4's compression speed and two
/// fifths of its decompression speed (measured in `ZstdBlock`).
public enum FrameCompression: Sendable, Equatable, CustomStringConvertible {
    case lz4
    /// zstd at `level` (1 … 19).
    case zstd(level: Int)

    public static let `default` = FrameCompression.lz4
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
