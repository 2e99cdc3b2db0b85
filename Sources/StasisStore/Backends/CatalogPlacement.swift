import StasisCatalog

/// Where a new store keeps its catalog.
public enum CatalogPlacement: Sendable {
    /// `catalog.sqlite` in the store's directory: one host.
    case embedded
    /// A PostgreSQL database (and schema) that every host of a fleet shares.
    case postgres(PostgresCatalogConfiguration)

    /// Opens the catalog database a store names: its descriptor's PostgreSQL URL (the password
    /// from `PGPASSWORD` in `environment`), or its own SQLite file.
    static func openDatabase(_ layout: StoreLayout, descriptor: StoreDescriptor?, environment: [String: String]) throws(StoreError) -> any CatalogDatabase {
        do {
            guard let descriptor else { return try SQLiteCatalog(path: layout.catalogPath) }
            return try PostgresCatalog(try PostgresCatalogConfiguration.parse(descriptor.catalog, environment: environment))
        } catch {
            throw .database(error)
        }
    }
}
