import Hummingbird
import NIOHTTP1
import Node
import Pinset

extension RESTAPIServer {
    /// The answer to an error a handler threw, in ipfs-cluster's error JSON:
    /// - ``APIError``: its status and message;
    /// - a malformed request body (a broken chunked encoding): 400, the client's error;
    /// - a write refused because this peer is not in its own `trusted_peers`: 403;
    /// - anything else: 500.
    static func failure(_ error: any Error) -> Response {
        switch error {
        case let e as APIError:
            return Self.error(e.status, e.message)
        case let e as HTTPParserError:
            return Self.error(.badRequest, "the request body is malformed (\(e)): send a valid chunked body, or the body with a Content-Length")
        case let e as PinsetError where e.code == .untrusted:
            return Self.error(.forbidden, e.message)
        default:
            return Self.error(.internalServerError, "\(error)")
        }
    }
}
