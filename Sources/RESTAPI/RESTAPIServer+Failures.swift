import Allocator
import CodedError
import Hummingbird
import NIOHTTP1
import Node
import Pinset

extension RESTAPIServer {
    /// The answer to an error a handler threw, in ipfs-cluster's error JSON:
    /// - ``APIError``: its status and message;
    /// - a malformed request body (a broken chunked encoding): 400, the client's error;
    /// - a write refused because this peer is not in its own `trusted_peers`: 403;
    /// - too few peers to allocate to: 503 (it may succeed once peers join); factors that make
    ///   no sense: 400;
    /// - ``ClusterError``: by its kind (404, 400, 503);
    /// - anything else: 500, with the error's message (not its type's name).
    static func failure(_ error: any Error) -> Response {
        switch error {
        case let e as APIError:
            return Self.error(e.status, e.message)
        case let e as HTTPParserError:
            return Self.error(.badRequest, "the request body is malformed (\(e)): send a valid chunked body, or the body with a Content-Length")
        case let e as PinsetError where e.code == .untrusted:
            return Self.error(.forbidden, e.message)
        case let e as AllocationError:
            return Self.error(e.code == .notEnoughPeers ? .serviceUnavailable : .badRequest, e.message)
        case let e as ClusterError:
            let api = APIError(e)
            return Self.error(api.status, api.message)
        case let e as any CodedError:
            return Self.error(.internalServerError, e.message)
        default:
            return Self.error(.internalServerError, "\(error)")
        }
    }
}
