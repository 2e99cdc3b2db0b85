import StasisCatalog
import StasisObjectStorage

/// Where a store keeps its catalog and its objects (packs, image manifests).
public enum StoreBackends: Sendable {
    /// One host: `catalog.sqlite` and the objects in the store's directory.
    case embedded
    /// A fleet: the catalog in PostgreSQL, the objects in an S3 bucket (or a shared directory),
    /// and the store's directory on each host as its descriptor, key and cache.
    case shared(catalog: PostgresCatalogConfiguration, objects: String, objectsEndpoint: String? = nil, objectsRegion: String? = nil)

    var descriptor: StoreDescriptor? {
        guard case .shared(let catalog, let objects, let endpoint, let region) = self else { return nil }
        return StoreDescriptor(catalog: catalog.description, objects: objects, objectsEndpoint: endpoint, objectsRegion: region)
    }

    /// The catalog database a store names: its descriptor's PostgreSQL (the password from
    /// `PGPASSWORD` in `environment`), or its own SQLite file.
    static func openCatalog(_ layout: StoreLayout, descriptor: StoreDescriptor?, environment: [String: String]) throws(StoreError) -> any CatalogDatabase {
        do {
            guard let descriptor else { return try SQLiteCatalog(path: layout.catalogPath) }
            return try PostgresCatalog(try PostgresCatalogConfiguration.parse(descriptor.catalog, environment: environment))
        } catch {
            if descriptor == nil, let hint = Catalog.fullDiskHint(layout.root) {
                throw .catalog(path: layout.catalogPath, message: "\(error) — \(hint)")
            }
            throw .database(error)
        }
    }

    /// The object storage a descriptor names: `s3://BUCKET/PREFIX` (credentials from
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` in `environment`) or `file:///DIRECTORY`.
    static func openObjects(_ descriptor: StoreDescriptor, environment: [String: String]) throws(StoreError) -> any ObjectStorage {
        guard let url = descriptor.objects else {
            throw .catalog(path: descriptor.catalog, message: "the store descriptor names a shared catalog but no objects: re-create it with `stasis init --objects s3://BUCKET/PREFIX`")
        }
        if url.hasPrefix("file://") {
            let root = String(url.dropFirst("file://".count))
            guard root.hasPrefix("/") else {
                throw .invalidArgument(field: "--objects", message: "'\(url)' is not a file:///ABSOLUTE/PATH URL")
            }
            return LocalDirectoryObjectStorage(root: root)
        }
        var environment = environment
        if let endpoint = descriptor.objectsEndpoint { environment["AWS_ENDPOINT_URL_S3"] = endpoint }
        if let region = descriptor.objectsRegion { environment["AWS_REGION"] = region }
        do {
            return S3ObjectStorage(configuration: try S3Configuration.fromEnvironment(repository: url, environment: environment))
        } catch {
            throw .objects(error)
        }
    }
}
