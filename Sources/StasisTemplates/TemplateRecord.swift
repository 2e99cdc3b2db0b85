import Foundation

/// A template as the catalog keeps it.
public struct TemplateRecord: Codable, Sendable, Equatable {
    public var name: String
    /// The image of its ext4 root disk in the content store.
    public var imageID: String
    public var source: String
    public var config: TemplateConfig
    public var size: Int64
    public var dataBytes: Int64
    public var warmCheckpoint: String?
    public var createdAt: Date

    /// Template names: `[a-z0-9][a-z0-9._-]*`, at most 64 characters.
    public static func validate(name: String) throws(TemplateError) {
        guard let first = name.first, name.count <= 64, first.isASCII, first.isLetter || first.isNumber,
              name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || "._-".contains($0)) }) else {
            throw .badName(name)
        }
    }
}

/// Where a template's root filesystem comes from.
public enum TemplateSource: Sendable {
    /// An OCI image layout directory or a `docker save` tarball.
    case oci(path: String)
    /// `debootstrap --variant=minbase` of a Debian suite with extra packages.
    case debian(suite: String, packages: [String], mirror: String)

    var description: String {
        switch self {
        case .oci(let path): return "oci:" + path
        case .debian(let suite, let packages, _): return "debian:" + suite + (packages.isEmpty ? "" : "+" + packages.joined(separator: ","))
        }
    }
}
