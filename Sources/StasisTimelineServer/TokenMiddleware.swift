import Hummingbird

/// Refuses (401) a request without the configured token. A browser gets it once as `?token=` and
/// keeps it in an HttpOnly, SameSite=Strict cookie, so the page's own requests carry it without
/// script access to it; scripts and curl send `Authorization: Bearer TOKEN`. Without a token
/// (loopback only), the Host header must name a loopback address, so that a web page whose
/// name was rebound to 127.0.0.1 cannot read the store through the visitor's browser.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?
    static var cookieName: String { "stasis_token" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token else {
            guard let host = request.head.authority, TimelineServerConfiguration.isLoopback(Self.hostName(host)) else {
                return TimelineResponse.error(.forbidden, "this server answers only requests addressed to a loopback name (127.0.0.1, localhost, [::1])")
            }
            return try await next(request, context)
        }
        let fromQuery = request.uri.queryParameters["token"].map(String.init)
        let offered = Self.bearer(request) ?? fromQuery ?? Self.cookie(request)
        guard let offered else {
            return TimelineResponse.error(.unauthorized, "this server needs a token: send `Authorization: Bearer TOKEN`, or open the page once with ?token=TOKEN")
        }
        guard Self.same(offered, token) else {
            return TimelineResponse.error(.unauthorized, "wrong token: check --token-file / STASIS_TOKEN")
        }
        var response = try await next(request, context)
        if fromQuery != nil, token.utf8.allSatisfy(Self.cookieSafe) {
            response.headers[.setCookie] = "\(Self.cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict"
        }
        return response
    }

    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return nil }
        return String(header.dropFirst("Bearer ".count))
    }

    static func cookie(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let kv = pair.trimmingPrefix(" ")
                if kv.hasPrefix(cookieName + "=") { return String(kv.dropFirst(cookieName.count + 1)) }
            }
        }
        return nil
    }

    /// Letters, digits and `-._~`: a token that needs no quoting in a cookie.
    static func cookieSafe(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || [0x2D, 0x2E, 0x5F, 0x7E].contains(byte)
    }

    /// `host:port`, `[v6]:port` or `host` → the host.
    static func hostName(_ authority: String) -> String {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        return String(authority.split(separator: ":", maxSplits: 1).first ?? "")
    }

    /// Compares without stopping at the first difference, so the time taken does not tell how
    /// much of a guess was right.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}
