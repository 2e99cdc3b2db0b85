/// The release of this build: what `stasis --version` prints and the daemon's Health check
/// reports, from one place. Raised when a release is cut.
public enum StasisRelease {
    public static let version = "0.5.0"
}
