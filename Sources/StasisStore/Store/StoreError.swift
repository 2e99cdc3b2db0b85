import StasisCatalog
import StasisObjectStorage
import StasisIO

/// Everything the store can refuse or fail with. Each message names the file, id or field, says
/// what is wrong and what to do. No case carries chunk *contents*: errors never leak data.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    case storeNotFound(path: String)
    case storeExists(path: String)
    case catalogInUse(location: String)
    case newerFormat(path: String, found: Int, supported: Int)
    case unknownMigrations(path: String, names: [String])
    case io(IOError)
    case catalog(path: String, message: String)
    /// The catalog engine failed (unreachable, a statement refused); the engine's error is kept.
    case database(CatalogError)
    /// The object storage of a fleet store failed (unreachable, refused, an object missing).
    case objects(ObjectStorageError)
    case unsupportedOnFleetStore(operation: String, reason: String)
    case leaseLost(lease: String)
    case invalidArgument(field: String, message: String)
    case notARegularFile(path: String)
    case sizeMismatch(path: String, expected: Int64, found: Int64, role: String)
    case imageNotFound(id: String)
    case ambiguousImage(prefix: String, matches: [String])
    case missingChunk(chunk: ChunkID, image: String)
    case corruptChunk(chunk: ChunkID, pack: String, offset: Int64, reason: String)
    case corruptPack(pack: String, reason: String)
    /// A pack written by a newer stasis (a higher format version, or header flags this one does
    /// not know): not damage, and never quarantined.
    case newerPack(pack: String, version: UInt16, flags: UInt16)
    case missingPack(pack: String)
    case corruptManifest(id: String, reason: String)
    case outputExists(path: String)
    case notEnoughSpace(path: String, needed: Int64, available: Int64)
    case blobNotFound(id: String)
    case heldByCheckpoint(target: String, checkpoint: String)
    /// A key is missing, wrong or exposed, or sealed data does not open (changed, or another
    /// store's). `subject` names the file, object or key.
    case encryption(subject: String, message: String)

    public var description: String {
        switch self {
        case .storeNotFound(let path):
            return "no Stasis store at '\(path)': run `stasis init --store \(path)` first, or point --store / STASIS_STORE at an existing store"
        case .storeExists(let path):
            return "a Stasis store already exists at '\(path)': use it, or choose another --store directory"
        case .catalogInUse(let location):
            return "the catalog at \(location) already holds a store: join it with `stasis init --catalog … --objects … --key FILE` on this host, or name an empty database or schema"
        case .newerFormat(let path, let found, let supported):
            return "the store at '\(path)' has format version \(found), but this stasis reads versions up to \(supported): upgrade stasis to open it (nothing was changed)"
        case .unknownMigrations(let path, let names):
            return "the catalog of '\(path)' was migrated by a newer stasis (\(names.joined(separator: ", "))): upgrade stasis to open it (nothing was changed)"
        case .io(let error):
            return error.description
        case .catalog(let path, let message):
            return "catalog '\(path)': \(message)"
        case .database(let error):
            return error.description
        case .objects(let error):
            return error.description
        case .leaseLost(let lease):
            return "this writer's lease \(lease) in the shared catalog expired or was removed before it could commit (it ran longer than \(Int(WriterLease.duration)) s, or a gc on another host swept it): nothing was committed; run it again"
        case .unsupportedOnFleetStore(let operation, let reason):
            return "`\(operation)` does not run on a fleet store (shared catalog and objects): \(reason)"
        case .invalidArgument(let field, let message):
            return "\(field): \(message)"
        case .notARegularFile(let path):
            return "'\(path)' is not a regular file: capture takes an image file (a guest memory file or a raw disk image)"
        case .sizeMismatch(let path, let expected, let found, let role):
            return "\(role) '\(path)' is \(found) bytes, but \(expected) bytes were expected: pass a \(role) of the same size as the image it belongs to"
        case .imageNotFound(let id):
            return "no image '\(id)' in this store: `stasis image ls` lists the images"
        case .ambiguousImage(let prefix, let matches):
            return "image prefix '\(prefix)' matches \(matches.count) images (\(matches.prefix(3).joined(separator: ", "))…): give more digits"
        case .missingChunk(let chunk, let image):
            return "image \(image) names chunk \(chunk) that is in no pack of this store: the image cannot be materialized; run `stasis verify` and restore the missing pack from a copy, or `stasis repair --reindex` if packs were moved in by hand"
        case .corruptChunk(let chunk, let pack, let offset, let reason):
            return "chunk \(chunk) in pack \(pack) at offset \(offset) is damaged (\(reason)): nothing was written; restore pack \(pack) from a copy, then run `stasis verify --deep`"
        case .corruptPack(let pack, let reason):
            return "pack \(pack) is damaged: \(reason); restore it from a copy, or run `stasis repair --reindex` to drop it from the index"
        case .newerPack(let pack, let version, let flags):
            return "pack \(pack) was written by a newer stasis (pack format version \(version), header flags \(flags); this stasis reads versions \(PackFormat.readableVersions.lowerBound)–\(PackFormat.readableVersions.upperBound)): upgrade stasis to read it; nothing was changed"
        case .missingPack(let pack):
            return "pack \(pack) is listed in the catalog but its file is missing: restore it from a copy, or run `stasis repair --reindex`"
        case .corruptManifest(let id, let reason):
            return "manifest of image \(id) is damaged: \(reason)"
        case .outputExists(let path):
            return "'\(path)' already exists: choose another output path, or pass --force to replace it"
        case .notEnoughSpace(let path, let needed, let available):
            return "not enough space for '\(path)': \(needed) bytes needed, \(available) available; free space and try again"
        case .blobNotFound(let id):
            return "no blob '\(id)' in this store"
        case .encryption(let subject, let message):
            return "\(subject): \(message)"
        case .heldByCheckpoint(let target, let checkpoint):
            return "\(target) is held by checkpoint \(checkpoint): remove the checkpoint (`stasis checkpoint rm`) instead"
        }
    }
}

extension StoreError {
    /// Wraps a syscall failure thrown by StasisIO.
    static func wrap<T>(_ body: () throws(IOError) -> T) throws(StoreError) -> T {
        do { return try body() } catch { throw .io(error) }
    }
}
