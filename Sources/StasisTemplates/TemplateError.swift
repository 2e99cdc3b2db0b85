import Foundation
import StasisStore

/// What building, finding or removing a template can fail with. Each message names the input
/// (the image, the layer, the entry in it), says what is wrong and what to do; a failed build
/// leaves the store and the catalog as they were.
public enum TemplateError: Error, Sendable, CustomStringConvertible {
    /// A template name that is not `[a-z0-9][a-z0-9._-]*` (at most 64 characters).
    case badName(String)
    case notFound(name: String)
    case exists(name: String)
    /// The image (a layout directory or a tarball) is not one this reads, or lacks a file.
    case badImage(source: String, message: String)
    /// A layer's bytes do not hash to the digest its manifest names.
    case digestMismatch(layer: String, expected: String, found: String)
    /// A layer (or the outer tarball) ends before its last entry does.
    case truncated(layer: String, entry: String?)
    /// An entry of a layer that is refused (a path with `..`, a device node, a symlink that
    /// climbs out of the root, a path through a symlink, a corrupt header).
    case badEntry(layer: String, entry: String, message: String)
    case badConfig(source: String, message: String)
    /// A tool (mkfs.ext4, debootstrap, gzip) failed or is missing; `output` is the end of what it said.
    case tool(name: String, message: String)
    case io(String, Int32)
    case store(StoreError)

    public var description: String {
        switch self {
        case .badName(let n):
            return "template name '\(n)' is not allowed: use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters"
        case .notFound(let n): return "no template named '\(n)': `stasis template ls` lists them"
        case .exists(let n): return "a template named '\(n)' exists: remove it first (`stasis template rm \(n)`) or pick another name"
        case .badImage(let s, let m): return "\(s): \(m); nothing was stored"
        case .digestMismatch(let l, let e, let f):
            return "layer \(l): its bytes hash to \(f), but the manifest names \(e) (a damaged or edited layer); nothing was stored"
        case .truncated(let l, let e):
            return "layer \(l) is truncated\(e.map { " inside entry '\($0)'" } ?? ""): the tarball ends early; copy it again; nothing was stored"
        case .badEntry(let l, let e, let m): return "layer \(l), entry '\(e)': \(m); nothing was stored"
        case .badConfig(let s, let m): return "image config \(s): \(m); nothing was stored"
        case .tool(let n, let m): return "\(n) failed: \(m)"
        case .io(let what, let e): return "\(what): \(String(cString: strerror(e)))"
        case .store(let e): return e.description
        }
    }
}
