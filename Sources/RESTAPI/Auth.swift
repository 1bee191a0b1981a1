import Crypto
import EmbeddedIPFS
import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// JSON Web Tokens from `POST /token` (ipfs-cluster's: HS256, the issuer is the basic-auth
/// user, the key is that user's password), with what ipfs-cluster lacks: an expiry (`exp`,
/// `token_ttl`) and revocation (`DELETE /token`), kept in a file so a restart keeps them.
/// Changing a user's password also invalidates every token issued to that user.
public final class TokenIssuer: Sendable {
    /// How long a token is valid; nil: forever (ipfs-cluster's behaviour).
    public let lifetime: Duration?
    let file: String?
    struct Revoked: Codable {
        /// Token id → its expiry (Unix seconds; 0: none), kept until it expires.
        var tokens: [String: Int64] = [:]
        /// User → every token issued at or before this second is revoked.
        var notAfter: [String: Int64] = [:]
        enum CodingKeys: String, CodingKey { case tokens, notAfter = "not_after" }
    }
    private let revoked: NIOLockedValueBox<Revoked>

    public init(lifetime: Duration?, file: String?) {
        self.lifetime = lifetime
        self.file = file
        let loaded = file.flatMap { try? Data(contentsOf: URL(fileURLWithPath: $0)) }.flatMap { try? JSONDecoder().decode(Revoked.self, from: $0) }
        revoked = NIOLockedValueBox(loaded ?? Revoked())
    }

    public struct Claims: Codable, Sendable {
        public var user: String { iss }
        var iss: String
        var iat: Int64
        var exp: Int64?
        var jti: String?
    }

    public static func base64url(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func unbase64url(_ text: Substring) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }

    static let header = base64url(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))

    /// A signed token for `user`, valid from `now` (Unix seconds).
    public func issue(user: String, password: String, now: Int64) -> String {
        var id = [UInt8](repeating: 0, count: 16)
        for i in id.indices { id[i] = UInt8.random(in: 0...255) }
        // A token issued in the second of a revoke-all of its user dates from the next second,
        // so it is not revoked with the older ones.
        let iat = max(now, (revoked.withLockedValue { $0.notAfter[user] } ?? now - 1) + 1)
        let exp = lifetime.map { iat + $0.components.seconds }
        let claims = Claims(iss: user, iat: iat, exp: exp, jti: Self.base64url(id))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let body = Self.header + "." + Self.base64url((try? encoder.encode(claims)) ?? Data())
        let mac = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(password.utf8)))
        return body + "." + Self.base64url(mac)
    }

    /// The user and token id of a valid token; throws why it is not valid.
    public func verify(_ token: String, credentials: [String: String], now: Int64) throws(RESTAPIServer.APIError) -> (user: String, claims: Claims) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let head = Self.unbase64url(parts[0]), let body = Self.unbase64url(parts[1]), let mac = Self.unbase64url(parts[2]) else {
            throw .init(.unauthorized, "unauthorized: the bearer token is not a JWT (header.claims.signature); get one with POST /token")
        }
        struct Header: Decodable { let alg: String }
        guard (try? JSONDecoder().decode(Header.self, from: head))?.alg == "HS256" else {
            throw .init(.unauthorized, "unauthorized: only HS256 tokens are accepted; get one with POST /token")
        }
        guard let claims = try? JSONDecoder().decode(Claims.self, from: body), let password = credentials[claims.iss] else {
            throw .init(.unauthorized, "unauthorized: the token names no known user; get a new one with POST /token")
        }
        let signed = Data((parts[0] + "." + parts[1]).utf8)
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: signed, using: SymmetricKey(data: Data(password.utf8))) else {
            throw .init(.unauthorized, "unauthorized: the token's signature does not match (forged, or the password changed); get a new one with POST /token")
        }
        if let exp = claims.exp, exp <= now {
            throw .init(.unauthorized, "unauthorized: the token expired; get a new one with POST /token")
        }
        let isRevoked = revoked.withLockedValue { r in
            claims.jti.map { r.tokens[$0] != nil } == true || (r.notAfter[claims.iss].map { claims.iat <= $0 } ?? false)
        }
        guard !isRevoked else { throw .init(.unauthorized, "unauthorized: the token was revoked; get a new one with POST /token") }
        return (claims.iss, claims)
    }

    /// Revokes one token (by id), or every token of `user` issued up to `now`.
    func revoke(id: String?, expiring exp: Int64?, user: String, now: Int64) throws {
        let snapshot = revoked.withLockedValue { r -> Revoked in
            if let id { r.tokens[id] = exp ?? 0 } else { r.notAfter[user] = now }
            // Expired tokens need no entry any more.
            r.tokens = r.tokens.filter { $0.value == 0 || $0.value > now }
            return r
        }
        guard let file else { return }
        let tmp = file + ".tmp"
        try JSONEncoder().encode(snapshot).write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, file) == 0 else { throw RESTAPIServer.APIError(.internalServerError, "cannot save the revocation in \(file): \(String(cString: strerror(errno)))") }
    }
}

/// Authentication: basic auth from `basic_auth_credentials` or a bearer token from
/// `POST /token`; `GET /health` and CORS preflights stay open. Serves `POST /token` and
/// `DELETE /token` itself, as it knows who is asking.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let credentials: [String: String]?
    let tokens: TokenIssuer

    enum Who {
        case basic(String, String)
        case bearer(String, TokenIssuer.Claims)
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    func who(_ request: Request, _ credentials: [String: String]) throws(RESTAPIServer.APIError) -> Who? {
        guard let header = request.headers[.authorization] else { return nil }
        if header.hasPrefix("Bearer ") {
            let (user, claims) = try tokens.verify(String(header.dropFirst(7)), credentials: credentials, now: Self.now())
            return .bearer(user, claims)
        }
        if header.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
            let colon = decoded.firstIndex(of: ":"),
            let password = credentials[String(decoded[..<colon])],
            constantTimeEquals(Array(password.utf8), Array(decoded[decoded.index(after: colon)...].utf8))
        {
            return .basic(String(decoded[..<colon]), password)
        }
        return nil
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let isToken = request.uri.path == "/token"
        // Without credentials the router's /token routes answer (400: no tokens to issue).
        guard let credentials, !(request.method == .get && request.uri.path == "/health"), request.method != .options else {
            return try await next(request, context)
        }
        let who: Who?
        do {
            who = try self.who(request, credentials)
        } catch {
            return Self.unauthorized(error.message)
        }
        guard let who else { return Self.unauthorized("unauthorized: this API needs basic auth credentials (--basic-auth user:password) or a bearer token from POST /token") }
        guard isToken else { return try await next(request, context) }
        switch (request.method, who) {
        case (.post, .basic(let user, let password)):
            struct T: Encodable { let token: String }
            return RESTAPIServer.json(T(token: tokens.issue(user: user, password: password, now: Self.now())))
        case (.post, .bearer):
            return RESTAPIServer.error(.forbidden, "a token cannot issue tokens: ask POST /token with basic auth")
        case (.delete, .bearer(let user, let claims)):
            do {
                try tokens.revoke(id: claims.jti, expiring: claims.exp, user: user, now: Self.now())
            } catch {
                return RESTAPIServer.error(.internalServerError, "\(error)")
            }
            return Response(status: .noContent)
        case (.delete, .basic(let user, _)):
            do {
                try tokens.revoke(id: nil, expiring: nil, user: user, now: Self.now())
            } catch {
                return RESTAPIServer.error(.internalServerError, "\(error)")
            }
            return Response(status: .noContent)
        default:
            return RESTAPIServer.error(.methodNotAllowed, "/token takes POST (issue) or DELETE (revoke)")
        }
    }

    static func unauthorized(_ message: String) -> Response {
        var response = RESTAPIServer.error(.unauthorized, message)
        response.headers[.wwwAuthenticate] = "Basic realm=\"Restricted IPFS Cluster API\""
        return response
    }
}

/// CORS as ipfs-cluster's `cors_*` settings say: allowed origins (`*` for any), methods,
/// headers, exposed headers, credentials and preflight max age. A preflight (`OPTIONS` with
/// `Access-Control-Request-Method`) is answered here without authentication.
///
/// Beyond what ipfs-cluster does (it reflects any origin with credentials):
/// - a cross-origin request whose origin or method is not allowed is refused with 403 before it
///   runs (a `POST` with a `text/plain` body needs no preflight, so the browser alone would not
///   stop a web page from pinning or unpinning);
/// - an origin is echoed with `Access-Control-Allow-Credentials` only when it is listed by
///   name; `*` answers `Access-Control-Allow-Origin: *`, which browsers never combine with
///   cookies or a stored `Authorization`.
/// A request whose `Origin` is the API's own address (`Host`) is same-origin and not checked,
/// when that address is an IP address or localhost or the origin is listed (``RequestOrigin``).
struct CORSPolicy: RouterMiddleware, Sendable {
    typealias Context = BasicRequestContext
    var allowedOrigins: [String]
    var allowedMethods: [String]
    var allowedHeaders: [String]
    var exposedHeaders: [String]
    var allowCredentials: Bool
    var maxAgeSeconds: Int64

    static func name(_ s: String) -> HTTPFields.Element.Name { HTTPFields.Element.Name(s)! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[Self.name("Origin")] else { return try await next(request, context) }
        let listed = allowedOrigins.contains(origin)
        // Same-origin, unless the name is not this machine's: a page whose name was re-pointed at
        // this address (DNS rebinding) is same-origin to the browser and must not write.
        if RequestOrigin.isSameOrigin(origin, authority: request.head.authority),
            listed || RequestOrigin.isAllowedHost(RequestOrigin.host(of: request.head.authority ?? ""), [])
        {
            return try await next(request, context)
        }
        let allowed = listed || allowedOrigins.contains("*")
        func methodAllowed(_ m: String) -> Bool { allowedMethods.contains(where: { $0.caseInsensitiveCompare(m) == .orderedSame }) }
        var headers = HTTPFields()
        func allow(_ h: inout HTTPFields) {
            h[Self.name("Access-Control-Allow-Origin")] = listed ? origin : "*"
            if listed && allowCredentials { h[Self.name("Access-Control-Allow-Credentials")] = "true" }
            h[Self.name("Vary")] = "Origin"
        }
        if request.method == .options, let wanted = request.headers[Self.name("Access-Control-Request-Method")] {
            if allowed, methodAllowed(wanted) {
                allow(&headers)
                headers[Self.name("Access-Control-Allow-Methods")] = allowedMethods.joined(separator: ", ")
                if !allowedHeaders.isEmpty { headers[Self.name("Access-Control-Allow-Headers")] = allowedHeaders.joined(separator: ", ") }
                if maxAgeSeconds > 0 { headers[Self.name("Access-Control-Max-Age")] = String(maxAgeSeconds) }
            }
            return Response(status: .noContent, headers: headers)
        }
        guard allowed, methodAllowed(request.method.rawValue) else {
            let why = allowed ? "the method \(request.method.rawValue) is not in cors_allowed_methods" : "the origin is not in cors_allowed_origins"
            return RESTAPIServer.error(.forbidden, "cross-origin \(request.method.rawValue) from \(origin) refused: \(why) of the API's configuration")
        }
        var response = try await next(request, context)
        allow(&response.headers)
        if !exposedHeaders.isEmpty { response.headers[Self.name("Access-Control-Expose-Headers")] = exposedHeaders.joined(separator: ", ") }
        return response
    }
}
