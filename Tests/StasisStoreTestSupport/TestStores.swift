import Foundation
import StasisCatalog
import StasisStore
import StasisTestSupport

/// Stores for tests, on the backends the run asks for: `STASIS_TEST_CATALOG=postgres` makes each
/// new store a fleet store — its catalog in a schema of its own in the test PostgreSQL, its
/// objects under a prefix of their own in the test SeaweedFS bucket (Tools/services) — so that
/// the same suites run on both; anything else, the embedded store (SQLite, local packs).
public enum TestStores {
    public static let engine: CatalogEngine =
        ProcessInfo.processInfo.environment["STASIS_TEST_CATALOG"] == "postgres" ? .postgres : .sqlite

    /// Backends for one new test store: a fresh schema and prefix per call on a fleet run.
    public static func backends() throws -> StoreBackends {
        guard engine == .postgres else { return .embedded }
        let variables = try exported()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        var catalog = try PostgresCatalogConfiguration.parse(variables["STASIS_TEST_PG_URL"]!)
        catalog.schema = name
        catalog.maxConnections = 4
        return .shared(catalog: catalog, objects: "s3://\(variables["STASIS_TEST_S3_BUCKET"]!)/\(name)")
    }

    /// Whether the run said to skip suites that need the test services.
    public static var servicesSkipped: Bool { TestServices.skipped }

    /// The test PostgreSQL's password (to check that nothing writes it down).
    public static func postgresPassword() throws -> String {
        try PostgresCatalogConfiguration.parse(try exported()["STASIS_TEST_PG_URL"]!).password ?? ""
    }

    /// Fleet backends (whatever this run's engine): a fresh schema and prefix in the test services.
    public static func fleetBackends() throws -> StoreBackends {
        let variables = try exported()
        let name = "f_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        var catalog = try PostgresCatalogConfiguration.parse(variables["STASIS_TEST_PG_URL"]!)
        catalog.schema = name
        catalog.maxConnections = 4
        return .shared(catalog: catalog, objects: "s3://\(variables["STASIS_TEST_S3_BUCKET"]!)/\(name)")
    }

    /// A new store at `root` on this run's backends.
    public static func create(at root: String, chunkSize: Int = ContentStore.defaultChunkSize) throws -> ContentStore {
        try ContentStore.create(at: root, chunkSize: chunkSize, backends: try backends())
    }

    /// The options a CLI test passes to `stasis init` (none for an embedded store).
    public static func initArguments() throws -> [String] {
        guard case .shared(let catalog, let objects, _, _) = try backends() else { return [] }
        return ["--catalog", catalog.description, "--objects", objects]
    }

    /// The services' settings, exported (once) into this process's environment under the names an
    /// operator would use — `PGPASSWORD`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_ENDPOINT_URL`, `AWS_REGION` — so that stores opened later, here or in a child
    /// `stasis`, find their credentials where they would in production.
    private static let exportedVariables: Result<[String: String], any Error> = Result {
        _ = try TestServices.variables(requiring: "STASIS_TEST_S3_BUCKET")
        let variables = try TestServices.variables(requiring: "STASIS_TEST_PG_URL")
        let catalog = try PostgresCatalogConfiguration.parse(variables["STASIS_TEST_PG_URL"]!)
        let exports: [String: String?] = [
            "PGPASSWORD": catalog.password,
            "AWS_ACCESS_KEY_ID": variables["STASIS_TEST_S3_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": variables["STASIS_TEST_S3_SECRET_ACCESS_KEY"],
            "AWS_ENDPOINT_URL": variables["STASIS_TEST_S3_ENDPOINT"],
            "AWS_REGION": variables["STASIS_TEST_S3_REGION"],
        ]
        for case let (name, value?) in exports { setenv(name, value, 1) }
        return variables
    }

    private static func exported() throws -> [String: String] { try exportedVariables.get() }
}
