import AsyncHTTPClient
import EmbeddedIPFS
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1

/// Passes calls to the IPFS daemon unchanged and its answers back, streamed both ways: the
/// request body goes out as it arrives, the answer's body comes back as the daemon sends it,
/// with its status, headers (hop-by-hop ones dropped, as RFC 9110 §7.6.1 asks of a proxy) and
/// trailers (kubo's `X-Stream-Error`). Memory per call is bounded by a chunk in each direction.
/// A daemon that cannot be reached is answered 502 in kubo's error shape, naming it.
struct DaemonForwarder: Sendable {
    let settings: IPFSProxySettings
    let client: HTTPClient

    /// The process-wide client of every proxy: no redirects followed, no decompression, no read
    /// timeout (a `pin/add` or a `cat` may be quiet for minutes), and a refused connection
    /// reported at once instead of retried until the connect timeout.
    static let connectSeconds: Int64 = 5
    static let shared: HTTPClient = {
        var c = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(connectSeconds), read: nil), decompression: .disabled)
        c.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        c.connectionPool.retryConnectionEstablishment = false
        c.httpVersion = .http1Only
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: c)
    }()

    init(settings: IPFSProxySettings, client: HTTPClient = Self.shared) {
        self.settings = settings
        self.client = client
    }

    /// Headers a proxy never passes on (RFC 9110 §7.6.1), besides those `Connection` names.
    static let hopByHop: Set<String> = [
        "connection", "proxy-connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade",
    ]

    /// `fields` without the hop-by-hop headers and those listed in its `Connection` header.
    static func endToEnd(_ fields: HTTPFields) -> [(String, String)] {
        var drop = hopByHop
        for f in fields where f.name.canonicalName == "connection" {
            for token in f.value.split(separator: ",") { drop.insert(token.trimmingCharacters(in: .whitespaces).lowercased()) }
        }
        return fields.filter { !drop.contains($0.name.canonicalName) }.map { ($0.name.rawName, $0.value) }
    }

    /// Forwards `request` as it is, or to `query` instead of its own.
    func forward(_ request: Request, query: String? = nil) async -> Response {
        let answer: HTTPClientResponse
        do {
            answer = try await send(request, query: query)
        } catch {
            return ProxyAnswer.error(unreachable(error), status: .badGateway)
        }
        return Self.relay(answer)
    }

    /// Sends `request` to the daemon (its path, and its query unless `query` replaces it) with
    /// its body streamed; returns once the daemon's answer head arrived.
    func send(_ request: Request, query: String? = nil) async throws -> HTTPClientResponse {
        let q = query ?? request.uri.query
        var out = HTTPClientRequest(url: settings.daemonURL + request.uri.path + (q.map { $0.isEmpty ? "" : "?" + $0 } ?? ""))
        out.method = HTTPMethod(rawValue: request.method.rawValue)
        // The client's Host, as Go's reverse proxy leaves it (HTTP types keep it as the authority).
        if let authority = request.head.authority { out.headers.add(name: "Host", value: authority) }
        for (name, value) in Self.endToEnd(request.headers) where name.lowercased() != "content-length" {
            out.headers.add(name: name, value: value)
        }
        if let length = request.headers[.contentLength].flatMap(Int.init) {
            if length > 0 { out.body = .stream(request.body, length: .known(Int64(length))) }
        } else if request.headers[.transferEncoding] != nil {
            out.body = .stream(request.body, length: .unknown)
        }
        return try await client.execute(out, timeout: .hours(24 * 365))
    }

    /// The daemon's answer as the proxy's: status, end-to-end headers, the body as it streams
    /// in, and its trailers at the end.
    static func relay(_ answer: HTTPClientResponse) -> Response {
        var headers = HTTPFields()
        var fields = HTTPFields()
        for h in answer.headers {
            if let name = HTTPFields.Element.Name(h.name) { fields.append(HTTPFields.Element(name: name, value: h.value)) }
        }
        for (name, value) in endToEnd(fields) {
            if let n = HTTPFields.Element.Name(name) { headers.append(HTTPFields.Element(name: n, value: value)) }
        }
        // The trailers the daemon announces are announced again (the body is re-chunked here).
        let announced = answer.headers["Trailer"]
        if !announced.isEmpty { headers[ProxyAnswer.trailerName] = announced.joined(separator: ", ") }
        let body = answer.body
        return Response(
            status: HTTPResponse.Status(code: Int(answer.status.code), reasonPhrase: answer.status.reasonPhrase), headers: headers,
            body: ResponseBody { writer in
                for try await chunk in body { try await writer.write(chunk) }
                var trailers: HTTPFields?
                if let t = body.trailers, !t.isEmpty {
                    var fields = HTTPFields()
                    for h in t { if let n = HTTPFields.Element.Name(h.name) { fields.append(HTTPFields.Element(name: n, value: h.value)) } }
                    trailers = fields
                }
                try await writer.finish(trailers)
            })
    }

    /// Why the daemon could not be reached, said as a person can act on it.
    func unreachable(_ error: any Error) -> KuboError {
        let text = "\(error)"
        let why: String
        if let e = error as? HTTPClientError, e == .connectTimeout || e == .deadlineExceeded {
            why = "it did not accept a connection within \(Self.connectSeconds) s"
        } else if text.contains("refused") || text.contains("ECONNREFUSED") {
            why = "connection refused: nothing listens there"
        } else if let e = error as? HTTPClientError, e == .remoteConnectionClosed {
            why = "it closed the connection before answering"
        } else {
            why = "the connection failed (\(text))"
        }
        return .normal(
            "the IPFS daemon at \(settings.daemonHost):\(settings.daemonPort) cannot be reached: \(why). Start the daemon, or set \(settings.daemonKey) to its RPC API address")
    }
}
