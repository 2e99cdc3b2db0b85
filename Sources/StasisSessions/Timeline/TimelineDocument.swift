import Crypto
import Foundation

/// Writes a timeline page: the markup, the export as JSON inside a
/// `<script type="application/json">` element, then the page's script. The JSON is made safe to
/// sit in HTML by writing `<`, `>` and `&` (which occur only inside strings) as `\u003c`,
/// `\u003e`, `\u0026`: no event text can close the element or open a comment, and `JSON.parse`
/// gives the original characters back exactly, so the page hashes the bytes stasis stored.
/// Written to a temporary file beside the target and renamed into place when complete.
struct TimelineDocument {
    private let path: String
    private let temporary: String
    private let handle: FileHandle?
    /// Where a streamed page goes instead of a file (a server's response), 1 MiB at a time.
    private let sink: (([UInt8]) throws -> Void)?
    private var buffer: [UInt8] = []

    /// A page streamed to `sink` (which may throw to stop the writing: a client went away).
    init(sink: @escaping ([UInt8]) throws -> Void) {
        path = "(stream)"; temporary = ""; handle = nil; self.sink = sink
        buffer.reserveCapacity(1 << 20)
    }

    init(path: String) throws(HistoryError) {
        self.path = path
        sink = nil
        let directory = (path as NSString).deletingLastPathComponent
        temporary = (directory.isEmpty ? "." : directory) + "/.\((path as NSString).lastPathComponent).\(UInt32.random(in: 0...UInt32.max)).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporary) else {
            throw .badArgument(field: "-o", message: "cannot write '\(path)': its directory is missing or not writable")
        }
        self.handle = handle
        buffer.reserveCapacity(1 << 20)
    }

    /// Text of the page itself (markup, keys and punctuation of the JSON): written as is.
    mutating func raw(_ text: String) throws(HistoryError) { buffer.append(contentsOf: text.utf8); try flushIfFull() }

    /// A JSON document (canonical JSON text) made safe for the script element.
    mutating func json(_ text: String) throws(HistoryError) {
        for byte in text.utf8 { appendSafe(byte) }
        try flushIfFull()
    }

    /// Bytes (UTF-8) as one JSON string, escaped for the script element.
    mutating func string<Bytes: Sequence<UInt8>>(_ bytes: Bytes) throws(HistoryError) {
        buffer.append(UInt8(ascii: "\""))
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): buffer.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): buffer.append(contentsOf: [0x5C, 0x5C])
            case 0..<0x20: buffer.append(contentsOf: Array(String(format: "\\u%04x", byte).utf8))
            default: appendSafe(byte)
            }
        }
        buffer.append(UInt8(ascii: "\""))
        try flushIfFull()
    }

    /// One event body as a line of the events element: `<`, LF and CR (which canonical JSON
    /// never writes raw, except `<`) as `\u003c`, `\u000a`, `\u000d`, escapes canonical JSON
    /// never uses, so the page can undo them exactly.
    mutating func eventLine<Bytes: Sequence<UInt8>>(_ bytes: Bytes) throws(HistoryError) {
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "<"): buffer.append(contentsOf: Self.lessThan)
            case 0x0A: buffer.append(contentsOf: Self.lineFeed)
            case 0x0D: buffer.append(contentsOf: Self.carriageReturn)
            default: buffer.append(byte)
            }
        }
        buffer.append(0x0A)
        try flushIfFull()
    }

    @inline(__always)
    private mutating func appendSafe(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "<"): buffer.append(contentsOf: Self.lessThan)
        case UInt8(ascii: ">"): buffer.append(contentsOf: Self.greaterThan)
        case UInt8(ascii: "&"): buffer.append(contentsOf: Self.ampersand)
        default: buffer.append(byte)
        }
        // U+2028 and U+2029 (E2 80 A8/A9) are valid in JSON strings and in script data; they
        // need no escape for JSON.parse, which has accepted them since ES2019.
    }

    private static let lessThan = Array(#"\u003c"#.utf8), greaterThan = Array(#"\u003e"#.utf8), ampersand = Array(#"\u0026"#.utf8)
    private static let lineFeed = Array(#"\u000a"#.utf8), carriageReturn = Array(#"\u000d"#.utf8)

    private mutating func flushIfFull() throws(HistoryError) { if buffer.count >= 1 << 20 { try flush() } }

    private mutating func flush() throws(HistoryError) {
        do { if let sink { try sink(buffer) } else { try handle?.write(contentsOf: buffer) } } catch {
            throw .badArgument(field: "-o", message: "cannot write '\(path)': \(error.localizedDescription)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, syncs and renames the page into place.
    mutating func finish() throws(HistoryError) {
        try flush()
        guard let handle else { return }
        do { try handle.synchronize(); try handle.close() } catch {
            throw .badArgument(field: "-o", message: "cannot write '\(path)': \(error.localizedDescription)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .badArgument(field: "-o", message: "cannot write '\(path)': \(reason)")
        }
    }

    func abandon() {
        guard let handle else { return }
        try? handle.close()
        unlink(temporary)
    }

    /// The CSP source hash of a script: base64 of its SHA-256.
    static func scriptHash(_ script: String) -> String {
        Data(SHA256.hash(data: Array(script.utf8))).base64EncodedString()
    }
}
