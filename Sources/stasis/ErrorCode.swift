/// The stable `code` of a JSON error (`--json`), for scripts to match on instead of the message:
/// `DOMAIN.CASE` in snake case, from the library error's type and case — `sandbox.paused`,
/// `sandbox.sandbox_not_found`, `history.session_not_found`, `store.blob_not_found`. An error that
/// wraps another (`HistoryError.store`, `SandboxError.store(_, cause:)`) takes the code of the
/// one it wraps, so the same failure has the same code through every layer. Bad arguments are
/// `usage`. The names are the library's case names, which are kept stable for this reason.
enum ErrorCode {
    static func of(_ error: any Error) -> String {
        let typeName = String(describing: type(of: error))
        let domain = snake(typeName.hasSuffix("Error") ? String(typeName.dropLast(5)) : typeName)
        let mirror = Mirror(reflecting: error)
        guard mirror.displayStyle == .enum, let child = mirror.children.first, let label = child.label else {
            return domain.isEmpty ? "error" : domain
        }
        if let inner = wrapped(child.value) { return of(inner) }
        return "\(domain).\(snake(label))"
    }

    /// The error a case's payload carries, if any (directly, or as an element of its tuple).
    private static func wrapped(_ payload: Any) -> (any Error)? {
        if let error = payload as? any Error { return error }
        for element in Mirror(reflecting: payload).children {
            if let error = element.value as? any Error { return error }
            // An optional cause: look inside.
            if let inner = Mirror(reflecting: element.value).children.first?.value as? any Error { return inner }
        }
        return nil
    }

    static func snake(_ name: String) -> String {
        var out = ""
        for (i, c) in name.enumerated() {
            if c.isUppercase {
                if i > 0 { out += "_" }
                out += c.lowercased()
            } else {
                out.append(c)
            }
        }
        return out
    }
}
