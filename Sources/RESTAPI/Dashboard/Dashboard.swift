import Crypto
import Foundation
import Hummingbird

/// The web dashboard at `/ui/` (`Specs/rest-api.md`, "Dashboard"): static files compiled into
/// the binary (``DashboardAssets``), served on the REST API's listener under its auth.
///
/// - `GET /ui` redirects to `/ui/`; `GET /ui/` is `index.html`; `GET /ui/<file>` is one of
///   ``DashboardAssets/files`` (404 otherwise); other methods are 405. `HEAD` answers the
///   headers only.
/// - With `basic_auth_credentials`, a request needs what every route needs (basic auth or a
///   bearer token), or the dashboard's cookie `pinmesh-ui=<token from POST /token>`, which is
///   read under `/ui` only (the API routes never take it, so it authorizes no write). Without,
///   the answer is 401 with the sign-in page (HTML, `WWW-Authenticate: Bearer`, so a browser
///   shows the page's form instead of its own dialog).
/// - Answers carry a content security policy that allows only this origin's scripts, styles
///   and requests (the sign-in page's one inline script and style by their hashes).
struct DashboardMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let auth: AuthMiddleware
    static let cookieName = "pinmesh-ui"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path == "/ui" || path.hasPrefix("/ui/") else { return try await next(request, context) }
        guard request.method == .get || request.method == .head else {
            var r = RESTAPIServer.error(.methodNotAllowed, "the dashboard's files are read with GET; the API's routes are outside /ui/")
            r.headers[.allow] = "GET, HEAD"
            return r
        }
        if let refusal = authorize(request) { return refusal }
        if path == "/ui" {
            var r = Response(status: .permanentRedirect)
            r.headers[.location] = "/ui/"
            return r
        }
        let name = path == "/ui/" ? "index.html" : String(path.dropFirst(4))
        guard let file = DashboardAssets.files[name] else {
            return RESTAPIServer.error(.notFound, "the dashboard has no file \(name.debugDescription): open /ui/")
        }
        return Self.answer(file.bytes, type: file.contentType, status: .ok, policy: Self.appPolicy, head: request.method == .head)
    }

    /// nil when the request may read the dashboard; otherwise the sign-in page.
    func authorize(_ request: Request) -> Response? {
        guard let credentials = auth.credentials else { return nil }
        var reason = "This cluster's API needs a user name and a password."
        do {
            if try auth.who(request, credentials) != nil { return nil }
            if let token = Self.cookieToken(request) {
                _ = try auth.tokens.verify(token, credentials: credentials, now: AuthMiddleware.now())
                return nil
            }
            if request.headers[.authorization] != nil { reason = "The user name or the password is wrong." }
        } catch {
            reason = error.message.replacingOccurrences(of: "unauthorized: ", with: "").replacingOccurrences(of: "; get a new one with POST /token", with: "") + ": sign in again."
        }
        var r = Self.answer(DashboardAssets.signInPage(reason), type: "text/html; charset=utf-8", status: .unauthorized, policy: Self.signInPolicy, head: request.method == .head)
        r.headers[.wwwAuthenticate] = "Bearer realm=\"PinMesh dashboard\""
        return r
    }

    /// The dashboard cookie's token, if the request has one.
    static func cookieToken(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let kv = pair.trimmingCharacters(in: .whitespaces)
                if kv.hasPrefix(cookieName + "="), kv.count > cookieName.count + 1 { return String(kv.dropFirst(cookieName.count + 1)) }
            }
        }
        return nil
    }

    static func answer(_ bytes: [UInt8], type: String, status: HTTPResponse.Status, policy: String, head: Bool) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache, private"
        headers[.contentSecurityPolicy] = policy
        headers[HTTPFields.Element.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPFields.Element.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPFields.Element.Name("Referrer-Policy")!] = "no-referrer"
        if head {
            headers[.contentLength] = String(bytes.count)
            return Response(status: status, headers: headers)
        }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static let appPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    static let signInPolicy: String = {
        func hash(_ s: String) -> String { "'sha256-" + Data(SHA256.hash(data: Data(s.utf8))).base64EncodedString() + "'" }
        return "default-src 'none'; script-src \(hash(DashboardAssets.signInScript)); style-src \(hash(DashboardAssets.signInStyle)); "
            + "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    }()
}

/// The dashboard's files, each a string constant (no resources to install beside the binary).
enum DashboardAssets {
    struct File: Sendable {
        let contentType: String
        let bytes: [UInt8]
        init(_ contentType: String, _ text: String) {
            self.contentType = contentType
            bytes = Array(text.utf8)
        }
    }

    static let files: [String: File] = [
        "index.html": File("text/html; charset=utf-8", indexHTML),
        "app.css": File("text/css; charset=utf-8", styleCSS),
        "app.js": File("text/javascript; charset=utf-8", appJS),
        "peers.js": File("text/javascript; charset=utf-8", peersJS),
        "graph.js": File("text/javascript; charset=utf-8", graphJS),
        "pins.js": File("text/javascript; charset=utf-8", pinsJS),
        "activity.js": File("text/javascript; charset=utf-8", activityJS),
        "favicon.svg": File("image/svg+xml", faviconSVG),
    ]

    /// The sign-in page with `reason` (HTML-escaped) above its form.
    static func signInPage(_ reason: String) -> [UInt8] {
        let escaped = reason.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        return Array(signInHTML.replacingOccurrences(of: "{{reason}}", with: escaped).utf8)
    }
}
