/// Who may call an HTTP API from a browser: the rules that stop a web page from driving an API
/// on this machine (cross-site requests, DNS rebinding).
///
/// - A request with no `Origin` (curl, every kubo client library) passes.
/// - An `Origin` naming the address the request was sent to (`Host`) is same-origin and passes.
/// - Any other `Origin` passes only when listed (kubo's `API.HTTPHeaders`
///   `Access-Control-Allow-Origin`; `*` lists every origin), `"null"` never.
/// - A browser's request (one with an `Origin`: browsers send it on every `POST`) must name an
///   IP address, `localhost` (or a name under `.localhost`) or a listed host in `Host`: a page
///   from evil.example whose name was re-pointed at 127.0.0.1 (DNS rebinding) is same-origin to
///   the browser, but sends `Host: evil.example` and is refused. Tools without an `Origin` may
///   call the API by any name.
public enum RequestOrigin {
    /// Whether `origin` (`scheme://host[:port]`) names the host and port in `authority`.
    public static func isSameOrigin(_ origin: String, authority: String?) -> Bool {
        guard let authority, let r = origin.range(of: "://") else { return false }
        let scheme = origin[..<r.lowerBound].lowercased()
        let port = scheme == "https" ? "443" : "80"
        return withPort(String(origin[r.upperBound...]), port) == withPort(authority, port)
    }

    /// Why the request is refused, or nil when it may run.
    public static func refusal(origin: String?, authority: String?, allowedOrigins: [String], allowedHosts: [String] = []) -> String? {
        guard let origin else { return nil }
        if let authority, !isAllowedHost(host(of: authority), allowedHosts) {
            return "browser requests for host \(host(of: authority).debugDescription) are refused: call the API by its IP address or localhost"
        }
        if origin != "null", isSameOrigin(origin, authority: authority) || allowedOrigins.contains("*") || allowedOrigins.contains(origin) {
            return nil
        }
        return "cross-origin request from \(origin) refused: add it to API.HTTPHeaders.Access-Control-Allow-Origin in the node's config to allow it"
    }

    public static func isAllowedHost(_ host: String, _ allowed: [String]) -> Bool {
        let h = host.lowercased()
        if h == "localhost" || h.hasSuffix(".localhost") || allowed.contains(where: { $0.lowercased() == h }) { return true }
        if h.hasPrefix("[") { return true }  // an IPv6 literal
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isNumber) && Int(p)! <= 255 }
    }

    /// The host of `authority` (`host[:port]`, `[v6][:port]`), without the port.
    public static func host(of authority: String) -> String {
        if authority.hasPrefix("["), let end = authority.firstIndex(of: "]") { return String(authority[...end]) }
        return String(authority.split(separator: ":", maxSplits: 1).first ?? "")
    }

    private static func withPort(_ authority: String, _ defaultPort: String) -> String {
        let a = authority.lowercased()
        let h = host(of: a)
        return a.count > h.count ? a : a + ":" + defaultPort
    }
}
