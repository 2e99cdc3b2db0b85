import Foundation
import StasisJSON

extension SessionStore {
    /// Largest file compared line by line (each side); larger or binary files get sizes and hashes.
    public static let lineDiffLimit = 1 << 20

    /// One file between two checkpoints: its size and SHA-256 on each side (null where it does
    /// not exist), and, for text files up to `lineDiffLimit`, the line diff; `note` says why
    /// there is none otherwise.
    public func timelineFileDiff(from a: String, to b: String, path: String, disk: String? = nil) throws(CheckpointFileError) -> JSONValue {
        func side(_ checkpoint: String) throws(CheckpointFileError) -> (CheckpointFile, [UInt8], Bool)? {
            var bytes: [UInt8] = [], over = false
            do {
                let f = try readFile(atCheckpoint: checkpoint, path: path, disk: disk) { chunk in
                    if bytes.count + chunk.count > Self.lineDiffLimit { over = true } else { bytes.append(contentsOf: chunk) }
                }
                return (f, bytes, over)
            } catch {
                if case .notFound = error { return nil }
                throw error
            }
        }
        let before = try side(a), after = try side(b)
        func facts(_ s: (CheckpointFile, [UInt8], Bool)?) -> JSONValue {
            guard let f = s?.0 else { return .null }
            return ["size": .int(f.size), "sha256": .string(f.sha256), "mode": .string(f.mode), "mtime": .int(f.mtime)]
        }
        var out: [String: JSONValue] = ["path": .string((try? Self.normalizedPath(path)) ?? path), "before": facts(before), "after": facts(after)]
        if before == nil, after == nil {
            throw .notFound(checkpoint: b, disk: disk ?? "", path: path, hint: "it exists at neither checkpoint")
        }
        if before?.2 == true || after?.2 == true {
            out["note"] = .string("larger than \(Self.lineDiffLimit) bytes: compare with `stasis checkpoint cat`")
        } else if let x = before.map({ String(validating: $0.1, as: UTF8.self) }) ?? "", let y = after.map({ String(validating: $0.1, as: UTF8.self) }) ?? "" {
            if let d = LineDiff.of(x, y) {
                out["lines"] = .array(d.lines.map { l in
                    ["change": .string(l.change.rawValue), "text": .string(l.text),
                     "before": l.before.map { .int(Int64($0)) } ?? .null, "after": l.after.map { .int(Int64($0)) } ?? .null]
                })
            } else {
                out["note"] = .string("too many changed lines to show")
            }
        } else {
            out["note"] = .string("binary file")
        }
        return .object(out)
    }

    /// Bounds on what an export precomputes: pairs of consecutive checkpoints, modified text
    /// files diffed per pair, and the JSON size of all of it.
    public static let exportedDiffPairs = 16, exportedFileDiffs = 16, exportedDiffBytes = 4 << 20

    /// The diffs of consecutive checkpoints that `history export --format html` embeds for the
    /// offline page: each pair's `CheckpointDiff` and the line diffs of its modified files, within
    /// the bounds above (`truncated` says when something was left out). A pair whose diff
    /// fails carries the error instead.
    func precomputedDiffs(_ checkpoints: [Checkpoint]) -> JSONValue {
        var pairs: [JSONValue] = [], bytes = 0, truncated = checkpoints.count - 1 > Self.exportedDiffPairs
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for (a, b) in zip(checkpoints, checkpoints.dropFirst()).prefix(Self.exportedDiffPairs) {
            var pair: [String: JSONValue] = ["from": .string(a.id), "to": .string(b.id)]
            do {
                let d = try diff(a.id, b.id)
                pair["diff"] = try JSONValue.parse(Array(try encoder.encode(d)))
                var files: [String: JSONValue] = [:]
                for image in d.images where image.name.hasPrefix("disk:") {
                    let disk = String(image.name.dropFirst(5))
                    for item in (image.files?.modified ?? []).prefix(Self.exportedFileDiffs) where item.kind == "file" {
                        if let f = try? timelineFileDiff(from: a.id, to: b.id, path: item.path, disk: disk) {
                            files[disk + ":" + item.path] = f
                        }
                    }
                }
                pair["files"] = .object(files)
            } catch {
                pair["error"] = .string("\(error)")
            }
            let value = JSONValue.object(pair)
            bytes += value.canonicalString.utf8.count
            if bytes > Self.exportedDiffBytes { truncated = true; break }
            pairs.append(value)
        }
        return ["pairs": .array(pairs), "truncated": .bool(truncated)]
    }
}
