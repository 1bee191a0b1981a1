import Hummingbird
import Node

/// Answers 503 "shutting down" (ipfs-cluster's error JSON) to every request that arrives once
/// the peer began to stop, and holds each admitted request in the peer's ``RequestGate`` until
/// its answer is written, so ``ClusterPeer/stop()`` closes the database only after them.
///
/// A request still running when the gate's wait gives up, whose answer is then a server error,
/// is answered 503 too: its failure is the shutdown's, not the request's.
struct StoppingPeerMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let gate: RequestGate

    static func shuttingDown() -> Response {
        RESTAPIServer.error(.serviceUnavailable, "the peer is shutting down: retry on another peer, or once it is back")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard gate.enter() else { return Self.shuttingDown() }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            gate.leave()
            if gate.isClosed { return Self.shuttingDown() }
            throw error
        }
        if gate.isClosed, response.status.code >= 500 {
            gate.leave()
            return Self.shuttingDown()
        }
        // A body already in memory is written without the peer; a streamed one reads it while
        // it is written, so the request stays admitted until the stream ends.
        if response.body.contentLength != nil {
            gate.leave()
            return response
        }
        let body = response.body
        let gate = self.gate
        response.body = ResponseBody { writer in
            defer { gate.leave() }
            try await body.write(writer)
        }
        return response
    }
}
