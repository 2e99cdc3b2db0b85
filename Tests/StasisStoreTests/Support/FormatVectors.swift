import Foundation

/// Reads the hex test vectors out of the specs in Formats/ (```hex vector:NAME blocks), so the
/// tests check exactly what the documentation says.
enum FormatVectors {
    static var formatsDirectory: String {
        // Tests/StasisStoreTests/Support/FormatVectors.swift → repository root.
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path + "/Formats"
    }

    static func vector(_ name: String, in file: String) -> [UInt8] {
        let text = (try? String(contentsOfFile: formatsDirectory + "/" + file, encoding: .utf8)) ?? ""
        guard let start = text.range(of: "```hex vector:\(name)\n"),
              let end = text.range(of: "```", range: start.upperBound..<text.endIndex) else { return [] }
        let hex = text[start.upperBound..<end.lowerBound].filter { $0.isHexDigit }
        var bytes: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            bytes.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return bytes
    }

    /// A value quoted in backticks after `label` in a spec (the ids of the vectors).
    static func quoted(after label: String, in file: String) -> String {
        let text = (try? String(contentsOfFile: formatsDirectory + "/" + file, encoding: .utf8)) ?? ""
        guard let r = text.range(of: label),
              let open = text.range(of: "`", range: r.upperBound..<text.endIndex),
              let close = text.range(of: "`", range: open.upperBound..<text.endIndex) else { return "" }
        return String(text[open.upperBound..<close.lowerBound])
    }
}
