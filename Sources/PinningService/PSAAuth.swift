import Foundation
public import Hummingbird
import NIOConcurrencyHelpers
import RESTAPI

/// Who may call the API: open without credentials (as ipfs-cluster's); with
/// `basic_auth_credentials`, `Authorization: Bearer <token>` where the token is one the REST
/// API issued (`POST /token`, signed with that user's password, not expired, not revoked), or
/// basic auth with the credentials themselves. Anything else is 401 `UNAUTHORIZED`.
///
/// Revocations are read from the REST API's revocation file (`revoked-tokens.json`), again
/// whenever it changes, so a token revoked there stops working here.
public struct PSAAuth: RouterMiddleware, Sendable {
    public typealias Context = BasicRequestContext
    public let credentials: [String: String]?
    let issuer: ReloadingIssuer

    public init(credentials: [String: String]?, revocationFile: String? = nil) {
        self.credentials = credentials.flatMap { $0.isEmpty ? nil : $0 }
        issuer = ReloadingIssuer(file: revocationFile)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let credentials else { return try await next(request, context) }
        try check(request.headers[.authorization], credentials)
        return try await next(request, context)
    }

    func check(_ header: String?, _ credentials: [String: String]) throws(PSAError) {
        guard let header else {
            throw PSAError(.unauthorized, status: 401, "an access token is needed: send Authorization: Bearer <token>, with a token from the REST API's POST /token")
        }
        if header.hasPrefix("Bearer ") {
            do {
                _ = try issuer.current().verify(String(header.dropFirst(7)), credentials: credentials, now: Int64(Date().timeIntervalSince1970))
                return
            } catch {
                throw PSAError(.unauthorized, status: 401, error.message)
            }
        }
        if header.hasPrefix("Basic "), let decoded = Data(base64Encoded: String(header.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
            let colon = decoded.firstIndex(of: ":"), let password = credentials[String(decoded[..<colon])],
            Self.same(Array(password.utf8), Array(decoded[decoded.index(after: colon)...].utf8))
        {
            return
        }
        throw PSAError(.unauthorized, status: 401, "the access token is not valid: send Authorization: Bearer <token>, with a token from the REST API's POST /token")
    }

    /// Compares without leaking where the first difference is.
    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

/// A ``TokenIssuer`` over the REST API's revocation file, made again when the file changes.
final class ReloadingIssuer: Sendable {
    let file: String?
    private let state: NIOLockedValueBox<(stamp: Date?, issuer: TokenIssuer)>

    init(file: String?) {
        self.file = file
        state = NIOLockedValueBox((Self.stamp(file), TokenIssuer(lifetime: nil, file: file)))
    }

    static func stamp(_ file: String?) -> Date? {
        file.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date }
    }

    func current() -> TokenIssuer {
        let now = Self.stamp(file)
        return state.withLockedValue { s in
            if s.stamp != now { s = (now, TokenIssuer(lifetime: nil, file: file)) }
            return s.issuer
        }
    }
}
