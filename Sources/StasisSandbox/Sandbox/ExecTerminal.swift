import Synchronization

/// A pseudo-terminal for a command (`stasis shell`): the program runs on a terminal of its own in
/// the guest, a fresh interactive shell (empty command) or `sh -c COMMAND`, outside the persistent
/// shell. Its output arrives as one stream (a terminal merges stdout and stderr). The caller keeps
/// this object to report size changes while the session runs (`resize`).
public final class ExecTerminal: Sendable {
    public struct Size: Sendable, Equatable {
        public var rows: Int
        public var columns: Int
        public init(rows: Int, columns: Int) { self.rows = rows; self.columns = columns }
    }

    public let initialSize: Size
    /// The guest's `TERM` (letters, digits, `-`, `.`, `_`).
    public let term: String
    /// Where a resize goes while a session runs (set by the driver); sizes that come before it is
    /// set are kept and sent when it is.
    private let state = Mutex<(sink: (@Sendable (Size) -> Void)?, pending: Size?)>((nil, nil))

    public init(size: Size, term: String) throws(SandboxError) {
        guard (1...10_000).contains(size.rows), (1...10_000).contains(size.columns) else {
            throw .badArgument("terminal size \(size.rows)x\(size.columns): rows and columns must be 1-10000")
        }
        guard !term.isEmpty, term.utf8.allSatisfy({ $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") }) else {
            throw .badArgument("TERM '\(term)': only letters, digits, '-', '.' and '_' are passed to the guest")
        }
        initialSize = size
        self.term = term
    }

    /// The terminal's new size (from SIGWINCH): sent to the guest, which tells the program.
    public func resize(_ size: Size) {
        guard (1...10_000).contains(size.rows), (1...10_000).contains(size.columns) else { return }
        let sink: (@Sendable (Size) -> Void)? = state.withLock { s in
            if s.sink == nil { s.pending = size }
            return s.sink
        }
        sink?(size)
    }

    /// Called by the driver for the session's lifetime (nil when it ends).
    public func attach(_ sink: (@Sendable (Size) -> Void)?) {
        let pending: Size? = state.withLock { s in
            s.sink = sink
            defer { s.pending = nil }
            return sink == nil ? nil : s.pending
        }
        if let pending, let sink { sink(pending) }
    }
}

extension UInt8 {
    fileprivate var isASCIILetterOrDigit: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
