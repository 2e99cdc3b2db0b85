import Foundation
import StasisCatalog
import StasisStore
import StasisTestSupport

/// Stores for tests, on the catalog engine the run asks for: `STASIS_TEST_CATALOG=postgres` puts
/// each new store's catalog in a schema of its own in the test PostgreSQL (Tools/services), so
/// that the same suites run on both engines; anything else, the embedded SQLite catalog.
public enum TestStores {
    public static let engine: CatalogEngine =
        ProcessInfo.processInfo.environment["STASIS_TEST_CATALOG"] == "postgres" ? .postgres : .sqlite

    /// Where a new test store's catalog goes: a fresh schema per call on PostgreSQL.
    public static func placement() throws -> CatalogPlacement {
        guard engine == .postgres else { return .embedded }
        var configuration = try PostgresCatalogConfiguration.parse(try passwordExported())
        configuration.schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        configuration.maxConnections = 4
        return .postgres(configuration)
    }

    /// A new store at `root` on this run's engine.
    public static func create(at root: String, chunkSize: Int = ContentStore.defaultChunkSize) throws -> ContentStore {
        try ContentStore.create(at: root, chunkSize: chunkSize, catalog: try placement())
    }

    /// The catalog option a CLI test passes to `stasis init` (none on SQLite).
    public static func initArguments() throws -> [String] {
        guard case .postgres(let configuration) = try placement() else { return [] }
        return ["--catalog", configuration.description]
    }

    /// The test PostgreSQL's URL. Its password goes into this process's `PGPASSWORD` (once), as
    /// an operator's would: stores opened later — here or in a child `stasis` — read it there.
    private static func passwordExported() throws -> String {
        let url = try TestServices.postgresURL()
        let configuration = try PostgresCatalogConfiguration.parse(url)
        if let password = configuration.password, ProcessInfo.processInfo.environment["PGPASSWORD"] != password {
            setenv("PGPASSWORD", password, 1)
        }
        return url
    }
}
