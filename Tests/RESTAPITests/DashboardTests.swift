import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The dashboard at `/ui/`: its files with their types and policy, and the API's auth on them
/// (basic, bearer, the `/ui`-scoped cookie; the sign-in page otherwise).
@Suite(.serialized) struct DashboardTests {
    static let files: [(String, String)] = [
        ("/ui/", "text/html"), ("/ui/index.html", "text/html"), ("/ui/app.css", "text/css"), ("/ui/app.js", "text/javascript"),
        ("/ui/peers.js", "text/javascript"), ("/ui/graph.js", "text/javascript"), ("/ui/pins.js", "text/javascript"),
        ("/ui/activity.js", "text/javascript"), ("/ui/favicon.svg", "image/svg+xml"),
    ]

    static func get(_ s: RESTAPITests.Served, _ path: String, _ headers: [(String, String)] = [], method: HTTPMethod = .GET) async throws -> (Int, HTTPHeaders, String) {
        let r = try await RESTAPITests.raw(s, method, path, headers)
        return (Int(r.status.code), r.headers, String(buffer: try await r.body.collect(upTo: 1 << 20)))
    }

    static func basic(_ user: String, _ password: String) -> (String, String) {
        ("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
    }

    @Test func filesAreServedWithTheirTypesAndAPolicyThatAllowsOnlyThisOrigin() async throws {
        let s = try await RESTAPITests.serve(peers: 1)
        defer { Task { await RESTAPITests.stop(s) } }
        for (path, type) in Self.files {
            let (status, headers, body) = try await Self.get(s, path)
            #expect(status == 200, "\(path)")
            #expect(headers["Content-Type"].first?.hasPrefix(type) == true, "\(path): \(headers["Content-Type"])")
            #expect(headers["X-Content-Type-Options"].first == "nosniff")
            let policy = headers["Content-Security-Policy"].first ?? ""
            #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"), "\(path): \(policy)")
            #expect(!body.isEmpty)
            // Nothing is loaded from elsewhere: the only URL in any file is SVG's namespace.
            let urls = body.components(separatedBy: "http://").count - 1
            let namespaces = body.components(separatedBy: "http://www.w3.org/2000/svg").count - 1
            let schemeless = ["\"//", "'//", "`//", "url("].filter { body.replacingOccurrences(of: "url(#", with: "").contains($0) }
            #expect(!body.contains("https://") && urls == namespaces && schemeless.isEmpty, "\(path) names another origin")
        }
        // Every file the page names is served.
        let (_, _, index) = try await Self.get(s, "/ui/")
        let named = index.components(separatedBy: "src=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
            + index.components(separatedBy: "href=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }.filter { !$0.hasPrefix("#") }
        #expect(named.count == 7, "\(named)")
        for file in named { #expect(try await Self.get(s, "/ui/" + file).0 == 200, "\(file)") }

        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        let redirect = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(s.port)/ui"), timeout: .seconds(10))
        try await client.shutdown()
        #expect(redirect.status.code == 308 && redirect.headers["Location"].first == "/ui/")
        let (missing, missingHeaders, message) = try await Self.get(s, "/ui/nothing.js")
        #expect(missing == 404 && missingHeaders["Content-Type"].first == "application/json" && message.contains("open /ui/"))
        let (post, postHeaders, _) = try await Self.get(s, "/ui/", method: .POST)
        #expect(post == 405 && postHeaders["Allow"].first == "GET, HEAD")
        let (head, headHeaders, headBody) = try await Self.get(s, "/ui/app.js", method: .HEAD)
        let (_, _, script) = try await Self.get(s, "/ui/app.js")
        #expect(head == 200 && headBody.isEmpty && headHeaders["Content-Length"].first == String(script.utf8.count))
        // The API's routes are untouched.
        #expect(try await Self.get(s, "/id").0 == 200)
    }

    @Test func theDashboardNeedsWhatTheAPINeedsAndOtherwiseAnswersTheSignInPage() async throws {
        let s = try await RESTAPITests.serve(peers: 1, credentials: ["admin": "s3cret"])
        defer { Task { await RESTAPITests.stop(s) } }
        for (path, _) in Self.files {
            let (status, headers, body) = try await Self.get(s, path)
            #expect(status == 401, "\(path)")
            #expect(headers["Content-Type"].first?.hasPrefix("text/html") == true)
            // Not Basic: a browser shows the page's form, not its own dialog.
            #expect(headers["WWW-Authenticate"].first == "Bearer realm=\"PinMesh dashboard\"")
            #expect(body.contains("id=\"login-form\"") && body.contains("needs a user name and a password"))
            #expect(!body.contains("PM.views"), "no part of the app without credentials")
            let policy = headers["Content-Security-Policy"].first ?? ""
            #expect(policy.contains("script-src 'sha256-") && !policy.contains("unsafe-inline"), "\(policy)")
        }
        let (wrong, _, refused) = try await Self.get(s, "/ui/", [Self.basic("admin", "guess")])
        #expect(wrong == 401 && refused.contains("wrong"))
        #expect(try await Self.get(s, "/ui/", [Self.basic("admin", "s3cret")]).0 == 200)

        let (_, _, issued) = try await Self.get(s, "/token", [Self.basic("admin", "s3cret")], method: .POST)
        struct Token: Decodable { let token: String }
        let token = try JSONDecoder().decode(Token.self, from: Data(issued.utf8)).token
        #expect(try await Self.get(s, "/ui/app.js", [("Authorization", "Bearer " + token)]).0 == 200)
        #expect(try await Self.get(s, "/ui/app.js", [("Cookie", "theme=dark; pinmesh-ui=" + token)]).0 == 200)
        // The cookie is read under /ui only: it authorizes none of the API's routes.
        #expect(try await Self.get(s, "/id", [("Cookie", "pinmesh-ui=" + token)]).0 == 401)
        #expect(try await Self.get(s, "/pins/QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR", [("Cookie", "pinmesh-ui=" + token)], method: .POST).0 == 401)
        // A forged token in the cookie is refused with the reason.
        var forged = token
        forged.removeLast(2)
        forged += forged.hasSuffix("A") ? "BB" : "AA"
        let (bad, _, why) = try await Self.get(s, "/ui/", [("Cookie", "pinmesh-ui=" + forged)])
        #expect(bad == 401 && why.contains("signature"))
        // A revoked token opens nothing.
        #expect(try await Self.get(s, "/token", [("Authorization", "Bearer " + token)], method: .DELETE).0 == 204)
        let (revoked, _, said) = try await Self.get(s, "/ui/", [("Cookie", "pinmesh-ui=" + token)])
        #expect(revoked == 401 && said.contains("revoked") && said.contains("sign in again"))
    }
}
