import Foundation
import StasisIO

/// What a host's store directory says about the shared parts of a fleet store: where its catalog
/// and its objects are (Formats/store-descriptor.md). A store on one host has no descriptor: its
/// catalog is `catalog.sqlite` and its objects are files beside it.
///
/// It names endpoints, never credentials: passwords and keys come from the environment
/// (`PGPASSWORD`, `AWS_SECRET_ACCESS_KEY`, …) each time the store is opened.
public struct StoreDescriptor: Codable, Sendable, Equatable {
    public static let currentFormat = 1

    public var format: Int
    /// `postgres://USER@HOST:PORT/DATABASE[?schema=NAME]`, with no password.
    public var catalog: String
    /// `s3://BUCKET/PREFIX`, or nil for objects kept in this directory.
    public var objects: String?
    /// The S3 endpoint (`http://host:port`) when it is not AWS's; else from `AWS_ENDPOINT_URL`.
    public var objectsEndpoint: String?
    /// The S3 region; else from `AWS_REGION`.
    public var objectsRegion: String?
    /// Bytes of objects this host keeps cached (least recently used goes first).
    public var cacheBytes: Int64?

    public init(catalog: String, objects: String? = nil, objectsEndpoint: String? = nil, objectsRegion: String? = nil, cacheBytes: Int64? = nil) {
        self.format = Self.currentFormat
        self.catalog = catalog
        self.objects = objects
        self.objectsEndpoint = objectsEndpoint
        self.objectsRegion = objectsRegion
        self.cacheBytes = cacheBytes
    }

    enum CodingKeys: String, CodingKey {
        case format, catalog, objects
        case objectsEndpoint = "objects_endpoint"
        case objectsRegion = "objects_region"
        case cacheBytes = "cache_bytes"
    }

    /// Reads a store's descriptor; nil when the store has none (a one-host store).
    static func read(_ layout: StoreLayout) throws(StoreError) -> StoreDescriptor? {
        guard FileSystem.exists(layout.descriptorPath) else { return nil }
        let bytes = try StoreError.wrap { () throws(IOError) in try FileSystem.readFile(layout.descriptorPath) }
        let descriptor: StoreDescriptor
        do { descriptor = try JSONDecoder().decode(StoreDescriptor.self, from: Data(bytes)) } catch {
            throw .catalog(path: layout.descriptorPath, message: "the store descriptor is not valid JSON of the expected shape (\(error)): fix or re-create it with `stasis init`")
        }
        guard descriptor.format <= currentFormat else {
            throw .newerFormat(path: layout.descriptorPath, found: descriptor.format, supported: currentFormat)
        }
        return descriptor
    }

    /// Writes the descriptor atomically, private to the owner.
    func write(_ layout: StoreLayout) throws(StoreError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes: [UInt8]
        do { bytes = Array(try encoder.encode(self)) + [0x0a] } catch {
            throw .catalog(path: layout.descriptorPath, message: "cannot encode the store descriptor: \(error)")
        }
        try StoreError.wrap { () throws(IOError) in
            try FileSystem.writeFileAtomically(layout.descriptorPath, bytes: bytes, permissions: StoreLayout.fileMode)
        }
    }
}
