import AsyncHTTPClient
import ClusterModel
import EmbeddedIPFS
public import Hummingbird
public import Logging
import NIOCore
public import Node

/// ipfs-cluster's IPFS proxy (`api.ipfsproxy`, `Specs/ipfs-proxy.md`): kubo's RPC API in front
/// of the peer's IPFS daemon, in which the calls that add or pin content act on the cluster.
///
/// - Intercepted (answered as kubo answers them, acting on the cluster through the
///   ``ClusterPeer``): `add`, `pin/add`, `pin/rm`, `pin/ls`, `pin/update`, `repo/stat` (summed over
///   the cluster's peers), `repo/gc` (every peer), and `block/put` / `dag/put` with `pin=true`.
///   Also by the path forms `pin/add/<arg>`, `pin/rm/<arg>`, `pin/ls/<arg>`. POST, GET and PUT.
/// - Every other call, method and path is forwarded to the daemon unchanged and streamed both
///   ways (``DaemonForwarder``); a daemon that cannot be reached is answered 502.
/// - Browser requests are held to the embedded RPC API's rules (``RequestOrigin``), an origin
///   the daemon's preflight allows passing too: otherwise 403.
/// - Once the peer began to stop, intercepted calls are answered 503.
public struct IPFSProxyServer: HTTPResponder, Sendable {
    public typealias Context = BasicRequestContext
    public let peer: ClusterPeer
    public let settings: IPFSProxySettings
    let forwarder: DaemonForwarder
    let daemonHeaders: DaemonHeaders
    let logger: Logger

    public init(peer: ClusterPeer, settings: IPFSProxySettings, logger: Logger = Logger(label: "pinmesh.ipfsproxy")) {
        self.peer = peer
        self.settings = settings
        self.logger = logger
        forwarder = DaemonForwarder(settings: settings)
        daemonHeaders = DaemonHeaders(settings: settings, client: DaemonForwarder.shared)
    }

    typealias Handler = @Sendable (IPFSProxyServer, RPCCall, Request, HTTPFields) async throws -> Response

    /// The calls answered here; the rest are forwarded.
    static let intercepted: [String: Handler] = [
        "add": { s, c, r, h in try await s.add(c, r, h) },
        "pin/add": { s, c, _, h in try await s.pinAdd(c, h) },
        "pin/rm": { s, c, _, h in try await s.pinRm(c, h) },
        "pin/ls": { s, c, _, h in try await s.pinLs(c, h) },
        "pin/update": { s, c, _, h in try await s.pinUpdate(c, h) },
        "repo/stat": { s, c, _, h in try await s.repoStat(c, h) },
        "repo/gc": { s, c, _, h in try await s.repoGC(c, h) },
        "block/put": { s, c, r, h in try await s.blockPut(c, r, h) },
        "dag/put": { s, c, r, h in try await s.dagPut(c, r, h) },
    ]

    /// Commands that also take their argument as the last path segment (`/api/v0/pin/add/<cid>`).
    static let slashForms: Set<String> = ["pin/add", "pin/rm", "pin/ls"]

    public func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        if let refused = await browserRefusal(request) { return refused }
        guard [.post, .get, .put].contains(request.method), let (name, slashArg) = Self.command(request.uri.path),
            let handler = Self.intercepted[name]
        else {
            return await forwarder.forward(request)
        }
        // block/put and dag/put act on the cluster only when they pin.
        if name == "block/put" || name == "dag/put", !Self.pins(request.uri.query) {
            return await forwarder.forward(request)
        }
        return await admitted {
            let headers = await daemonHeaders.headers(for: request)
            do {
                var query = request.uri.query ?? ""
                if let slashArg { query += (query.isEmpty ? "" : "&") + "arg=" + slashArg }
                let call = try RPCCall(command: name, query: query)
                return try await handler(self, call, request, headers)
            } catch {
                if !(error is KuboError) { logger.notice("ipfs proxy \(name) failed", metadata: ["error": "\(error)"]) }
                return ProxyAnswer.error(ProxyAnswer.kubo(error), headers: headers)
            }
        }
    }

    /// A browser's request the embedded RPC API's rules refuse (``RequestOrigin``), answered
    /// 403; nil for every other request. An origin neither the proxy's own nor listed in
    /// ``IPFSProxySettings/allowedOrigins`` passes when the daemon's preflight allows it (kubo's
    /// `API.HTTPHeaders`); a host name that is not an address is refused whatever the origin.
    func browserRefusal(_ request: Request) async -> Response? {
        guard let origin = request.headers[DaemonHeaders.originName] else { return nil }
        let authority = request.head.authority
        guard
            var why = RequestOrigin.refusal(
                origin: origin, authority: authority, allowedOrigins: settings.allowedOrigins, allowedHosts: settings.allowedHosts)
        else { return nil }
        let hostAllowed = authority.map { RequestOrigin.isAllowedHost(RequestOrigin.host(of: $0), settings.allowedHosts) } ?? true
        if hostAllowed && origin != "null" {
            if await daemonHeaders.allows(origin: origin, path: request.uri.path, method: request.method.rawValue) { return nil }
            why += " (nor does the IPFS daemon allow it)"
        }
        logger.notice("ipfs proxy refused a browser request", metadata: ["path": "\(request.uri.path)", "reason": "\(why)"])
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: .forbidden, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: "403 - Forbidden\n")))
    }

    /// The command a path names, and the argument of a path form (`pin/add/<cid>`).
    static func command(_ path: String) -> (String, String?)? {
        guard path.hasPrefix("/api/v0/") else { return nil }
        var name = String(path.dropFirst("/api/v0/".count))
        while name.hasSuffix("/") { name.removeLast() }
        if intercepted[name] != nil { return (name, nil) }
        guard let slash = name.lastIndex(of: "/") else { return nil }
        let head = String(name[..<slash])
        guard slashForms.contains(head) else { return nil }
        return (head, String(name[name.index(after: slash)...]))
    }

    /// Whether a query asks `block/put` or `dag/put` to pin: `pin` true (as ipfs-cluster, only
    /// `pin=true` is read so; an empty value counts as true, as kubo reads flags).
    static func pins(_ query: String?) -> Bool {
        guard let call = try? RPCCall(command: "", query: query) else { return false }
        return (try? call.bool("pin", default: false)) ?? false
    }

    /// Runs `body` admitted by the peer's request gate (503 once the peer began to stop); a
    /// streamed answer stays admitted until it is written.
    func admitted(_ body: () async -> Response) async -> Response {
        let gate = peer.requests
        guard gate.enter() else {
            return ProxyAnswer.error(.normal("the cluster peer is shutting down: retry on another peer, or once it is back"), status: .serviceUnavailable)
        }
        var response = await body()
        if response.body.contentLength != nil {
            gate.leave()
            return response
        }
        let inner = response.body
        response.body = ResponseBody { writer in
            defer { gate.leave() }
            try await inner.write(writer)
        }
        return response
    }
}

extension IPFSProxyServer {
    /// The proxy on `host:port` (port 0: one the OS picks; `onRunning` gets the bound port).
    /// Run it with `runService()` or in a `ServiceGroup`.
    public func application(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> Application<IPFSProxyServer> {
        let idle = settings.idleTimeout.map { d in TimeAmount.nanoseconds(d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000) }
        return Application(
            responder: self, server: .http1(configuration: .init(idleTimeout: idle)), configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) }, logger: logger)
    }
}
