import ClusterModel
import Foundation
public import Hummingbird
import HummingbirdTLS
public import NIOSSL
public import Logging
import Multiformats
public import Node

/// ipfs-cluster's REST API (1.x routes and JSON) over a `ClusterPeer` (`Specs/rest-api.md`).
/// Streams are newline-delimited JSON (`X-Chunked-Output: 1`), with an error after the first
/// item reported in the `X-Stream-Error` trailer; an empty stream is 204. Errors are
/// `{"code": N, "message": "…"}`.
public struct RESTAPIServer: Sendable {
    public let peer: ClusterPeer
    /// user → password; nil: no authentication.
    public let credentials: [String: String]?
    public let settings: Settings
    public let logger: Logger
    let tokens: TokenIssuer

    /// What `api.restapi` configures beyond the address and the credentials.
    public struct Settings: Sendable {
        /// How long tokens from `POST /token` are valid (`token_ttl`); nil: forever.
        public var tokenLifetime: Duration? = .seconds(24 * 3600)
        /// Where revoked tokens are kept across restarts (nil: in memory only).
        public var revocationFile: String?
        public var corsAllowedOrigins = ["*"]
        public var corsAllowedMethods = ["GET"]
        public var corsAllowedHeaders: [String] = []
        public var corsExposedHeaders = ["Content-Type", "X-Stream-Output", "X-Chunked-Output", "X-Content-Length"]
        public var corsAllowCredentials = true
        public var corsMaxAge: Duration = .zero
        /// Headers added to every answer (`headers`).
        public var headers: [String: [String]] = [:]
        /// Serve HTTPS with this (`ssl_cert_file`, `ssl_key_file`); nil: plain HTTP.
        public var tls: TLSConfiguration?
        /// A connection whose request headers are not complete this long after it opened is
        /// closed (`read_header_timeout`); nil: no limit.
        public var readHeaderTimeout: Duration? = .seconds(5)
        /// A connection that reads and writes nothing this long (a kept-alive connection
        /// between requests, a stalled upload) is closed (`idle_timeout`); nil: no limit.
        public var idleTimeout: Duration? = .seconds(120)
        public init() {}
    }

    /// A server TLS configuration from a PEM certificate chain and its PEM private key; the
    /// error names the file that could not be used.
    public static func tlsConfiguration(certificateFile: String, keyFile: String) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw APIError(.internalServerError, "\(certificateFile): not a readable PEM certificate (\(error))")
        }
        guard !chain.isEmpty else { throw APIError(.internalServerError, "\(certificateFile): no certificate in the file") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw APIError(.internalServerError, "\(keyFile): not a readable PEM private key (\(error))")
        }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }

    public init(peer: ClusterPeer, credentials: [String: String]? = nil, settings: Settings = Settings(), logger: Logger = Logger(label: "pinmesh.restapi")) {
        self.peer = peer
        self.credentials = credentials
        self.settings = settings
        self.logger = logger
        tokens = TokenIssuer(lifetime: settings.tokenLifetime, file: settings.revocationFile)
    }

    /// An error with its HTTP status, rendered as ipfs-cluster's error JSON.
    public struct APIError: Error, Sendable {
        public let status: HTTPResponse.Status
        public let message: String
        public init(_ status: HTTPResponse.Status, _ message: String) {
            self.status = status
            self.message = message
        }

        /// 404, 400 or 503 by the error's kind.
        init(_ e: ClusterError) {
            switch e.kind {
            case .notFound: self.init(.notFound, e.message)
            case .badRequest: self.init(.badRequest, e.message)
            case .unavailable: self.init(.serviceUnavailable, e.message)
            }
        }
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(
            middleware: CORSPolicy(
                allowedOrigins: settings.corsAllowedOrigins, allowedMethods: settings.corsAllowedMethods, allowedHeaders: settings.corsAllowedHeaders,
                exposedHeaders: settings.corsExposedHeaders, allowCredentials: settings.corsAllowCredentials,
                maxAgeSeconds: settings.corsMaxAge.components.seconds))
        if !settings.headers.isEmpty { router.add(middleware: ExtraHeaders(headers: settings.headers)) }
        router.add(middleware: StoppingPeerMiddleware(gate: peer.requests))
        let auth = AuthMiddleware(credentials: credentials, tokens: tokens)
        // The dashboard at /ui/ (static files, under the same auth; `Dashboard.swift`).
        router.add(middleware: DashboardMiddleware(auth: auth))
        router.add(middleware: auth)
        let peer = self.peer
        router.get("/health") { _, _ in Response(status: .noContent) }
        router.get("/version") { _, _ in Self.json(["version": PinMeshVersion.string]) }
        router.get("/id") { _, _ in Self.json(await Self.identity(peer)) }
        router.get("/peers") { _, _ in
            let ids = await peer.peers()
            return await Self.stream { emit in for id in ids { try await emit(id) } }
        }
        router.get("/pins") { request, _ in
            await Self.handle {
                let q = request.uri.queryParameters
                let local = try Self.bool(q.get("local"), "local")
                let filter = try Self.filter(q.get("filter"))
                if let list = q.get("cids"), !list.isEmpty {
                    let cids = try list.split(separator: ",").map { try Self.cid(String($0)) }
                    return await Self.stream { emit in
                        for cid in cids {
                            let g = await peer.status(cid, local: local)
                            if let filter, !g.peerMap.values.contains(where: { filter.contains($0.status) }) { continue }
                            try await emit(g)
                        }
                    }
                }
                return await Self.stream { emit in try await peer.statusAll(local: local, filter: filter) { try await emit($0) } }
            }
        }
        router.get("/pins/:cid") { request, context in
            await Self.handle {
                let cid = try Self.cid(context.parameters.get("cid") ?? "")
                let local = try Self.bool(request.uri.queryParameters.get("local"), "local")
                return Self.json(await peer.status(cid, local: local))
            }
        }
        // PinMesh's own: each shard's status, then the cluster DAG's, of a sharded add's root.
        router.get("/pins/:cid/shards") { request, context in
            await Self.handle {
                let cid = try Self.cid(context.parameters.get("cid") ?? "")
                let local = try Self.bool(request.uri.queryParameters.get("local"), "local")
                let statuses: [GlobalPinInfo]
                do {
                    statuses = try await peer.shardStatuses(cid, local: local)
                } catch let e as ClusterError {
                    throw APIError(e)
                }
                return await Self.stream { emit in for g in statuses { try await emit(g) } }
            }
        }
        router.post("/pins/:cid") { request, context in
            await Self.pin(peer, request) { try Self.cid(context.parameters.get("cid") ?? "") }
        }
        router.delete("/pins/:cid") { _, context in
            await Self.unpin(peer) { try Self.cid(context.parameters.get("cid") ?? "") }
        }
        // Path pins: /pins/ipfs/<cid>/a/b, /pins/ipns/<name>, /pins/ipld/<cid>/…, resolved by
        // this peer's IPFS daemon; answered like the CID routes.
        for kind in ["ipfs", "ipns", "ipld"] {
            router.post("/pins/\(kind)/**") { request, context in
                await Self.pin(peer, request) { try await Self.resolve(peer, kind, context.parameters.getCatchAll()) }
            }
            router.delete("/pins/\(kind)/**") { _, context in
                await Self.unpin(peer) { try await Self.resolve(peer, kind, context.parameters.getCatchAll()) }
            }
        }
        router.post("/pins/:cid/recover") { request, context in
            await Self.handle {
                let cid = try Self.cid(context.parameters.get("cid") ?? "")
                let local = try Self.bool(request.uri.queryParameters.get("local"), "local")
                return Self.json(try await peer.recover(cid, local: local))
            }
        }
        router.post("/pins/recover") { request, _ in
            await Self.handle {
                let local = try Self.bool(request.uri.queryParameters.get("local"), "local")
                return await Self.stream { emit in
                    // Recover every CID in error on this peer (local) or anywhere.
                    let failed = LockedList<CID>()
                    try await peer.statusAll(local: local, filter: [.pinError, .unpinError, .unexpectedlyUnpinned, .clusterError]) { g in failed.append(g.cid) }
                    for cid in failed.items { try await emit(try await peer.recover(cid, local: local)) }
                }
            }
        }
        router.get("/allocations") { request, _ in
            await Self.handle {
                let words = (request.uri.queryParameters.get("filter") ?? "all").split(separator: ",").map(String.init)
                var wanted = Set<PinType>()
                for w in words {
                    if w == "all" { wanted.formUnion(PinType.allCases); continue }
                    guard let t = PinType(name: w) else {
                        throw APIError(.badRequest, "filter \(w.debugDescription) is not a pin type: use pin, meta-pin, clusterdag-pin, shard-pin or all")
                    }
                    wanted.insert(t)
                }
                let types = wanted
                return await Self.stream { emit in
                    try await peer.forEachPin { pin in if types.contains(pin.type) { try await emit(pin) } }
                }
            }
        }
        router.get("/allocations/:cid") { _, context in
            await Self.handle {
                let cid = try Self.cid(context.parameters.get("cid") ?? "")
                guard let pin = try await peer.pinned(cid) else { throw APIError(.notFound, "\(cid) is not pinned in the cluster") }
                return Self.json(pin)
            }
        }
        router.post("/add") { request, _ in await Self.add(peer, request) }
        // With credentials the auth middleware answers /token (it knows who asks); these
        // answer only when the API has none.
        for method in [HTTPRequest.Method.post, .delete] {
            router.on("/token", method: method) { _, _ in
                Self.error(.badRequest, "tokens need basic_auth_credentials in the API's configuration; this API has no authentication")
            }
        }
        router.delete("/peers/:peer") { _, context in
            await Self.handle {
                let text = context.parameters.get("peer") ?? ""
                let id: PeerID
                do { id = try PeerID(text) } catch { throw APIError(.badRequest, "\(text.debugDescription) is not a peer ID") }
                do {
                    try await peer.removePeer(id)
                } catch let e as ClusterError {
                    throw APIError(e.kind == .notFound ? .notFound : .badRequest, e.message)
                }
                return Response(status: .noContent)
            }
        }
        router.post("/ipfs/gc") { request, _ in
            await Self.handle {
                let local = try Self.bool(request.uri.queryParameters.get("local"), "local")
                return Self.json(await peer.gc(local: local))
            }
        }
        router.get("/health/graph") { _, _ in Self.json(await peer.graph()) }
        router.get("/health/bandwidth") { _, _ in Self.json(await peer.bandwidth()) }
        router.get("/health/alerts") { _, _ in Self.json(await peer.monitor.recentAlerts) }
        router.get("/monitor/metrics") { _, _ in Self.json(await peer.monitor.metricNames) }
        router.get("/monitor/metrics/:name") { _, context in
            Self.json(await peer.monitor.metrics(context.parameters.get("name") ?? ""))
        }
        return router
    }

    /// The application on `host:port` (port 0: one the OS picks; `onRunning` gets it).
    /// HTTPS when `settings.tls` is set.
    /// Connections are bounded by `readHeaderTimeout`, `idleTimeout` and a lingering close
    /// (``ConnectionGuardHandler``).
    public func application(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let http = GuardedHTTP1Channel.builder(readHeaderTimeout: settings.readHeaderTimeout, idleTimeout: settings.idleTimeout)
        return Application(
            router: router(), server: try settings.tls.map { try .tls(http, tlsConfiguration: $0) } ?? http,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) }, logger: logger)
    }

    // MARK: helpers

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return e
    }()

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        struct E: Encodable {
            let code: Int
            let message: String
        }
        return json(E(code: status.code, message: message), status: status)
    }

    /// Runs a handler, turning thrown errors into ipfs-cluster's error JSON.
    static func handle(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch {
            return failure(error)
        }
    }

    static func cid(_ text: String) throws -> CID {
        do {
            return try CID(text)
        } catch {
            throw APIError(.badRequest, "\(text.debugDescription) is not a CID: \(error)")
        }
    }

    /// `POST /pins/…`: pins the CID `target` names with the query's options.
    static func pin(_ peer: ClusterPeer, _ request: Request, _ target: () async throws -> CID) async -> Response {
        await handle {
            let cid = try await target()
            let (options, mode) = try pinOptions(request.uri.queryParameters)
            do {
                return json(try await peer.pin(cid, options: options, mode: mode))
            } catch let e as ClusterError {
                throw APIError(e)
            }
        }
    }

    /// `DELETE /pins/…`: unpins the CID `target` names (404 when it is not pinned).
    static func unpin(_ peer: ClusterPeer, _ target: () async throws -> CID) async -> Response {
        await handle {
            let cid = try await target()
            do {
                return json(try await peer.unpin(cid))
            } catch let e as ClusterError {
                throw APIError(e)
            }
        }
    }

    /// The CID `/<kind>/<rest>` resolves to (400 when it does not).
    static func resolve(_ peer: ClusterPeer, _ kind: String, _ rest: [Substring]) async throws -> CID {
        guard !rest.isEmpty else { throw APIError(.badRequest, "an empty /\(kind)/ path: write /pins/\(kind)/<cid or name>[/sub/path]") }
        let path = "/\(kind)/" + rest.joined(separator: "/")
        if kind != "ipns", rest.count == 1, let cid = try? CID(String(rest[0])) { return cid }
        do {
            return try await peer.resolve(path)
        } catch let e as ClusterError {
            throw APIError(.badRequest, e.message)
        }
    }

    static func bool(_ text: String?, _ name: String) throws -> Bool {
        guard let text, !text.isEmpty else { return false }
        switch text {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: throw APIError(.badRequest, "parameter \(name)=\(text.debugDescription) is not a boolean (true or false)")
        }
    }

    static func filter(_ text: String?) throws -> Set<TrackerStatus>? {
        guard let text, !text.isEmpty else { return nil }
        var out = Set<TrackerStatus>()
        for w in text.split(separator: ",").map(String.init) {
            guard TrackerStatus.filterWords.contains(w) else {
                throw APIError(.badRequest, "filter \(w.debugDescription) is not a status; use one of \(TrackerStatus.filterWords.sorted().joined(separator: ", "))")
            }
            out.formUnion(TrackerStatus.allCases.filter { $0.matches(filter: w) })
        }
        return out
    }

    /// ipfs-cluster's pin options from a query: `name`, `mode`, `replication-min`,
    /// `replication-max` (`replication` sets both), `shard-size`, `user-allocations`,
    /// `expire-at` (RFC 3339) or `expire-in` (Go duration), `pin-update`, `origins`, `meta-<key>`.
    static func pinOptions(_ q: Parameters) throws -> (PinOptions, PinMode?) {
        var o = PinOptions()
        func int(_ key: String) throws -> Int? {
            guard let v = q.get(key), !v.isEmpty else { return nil }
            guard let n = Int(v) else { throw APIError(.badRequest, "parameter \(key)=\(v.debugDescription) is not an integer") }
            return n
        }
        if let r = try int("replication") {
            o.replicationFactorMin = r
            o.replicationFactorMax = r
        }
        if let r = try int("replication-min") { o.replicationFactorMin = r }
        if let r = try int("replication-max") { o.replicationFactorMax = r }
        for (k, v) in [("replication-min", o.replicationFactorMin), ("replication-max", o.replicationFactorMax)] where v < -1 {
            throw APIError(.badRequest, "parameter \(k)=\(v) is invalid: use -1 (every peer), 0 (the cluster's default) or a positive number")
        }
        if o.replicationFactorMin > 0, o.replicationFactorMax > 0, o.replicationFactorMin > o.replicationFactorMax {
            throw APIError(.badRequest, "replication-min \(o.replicationFactorMin) is above replication-max \(o.replicationFactorMax)")
        }
        o.name = q.get("name") ?? ""
        var mode: PinMode?
        if let m = q.get("mode"), !m.isEmpty {
            guard let pm = PinMode(rawValue: m) else { throw APIError(.badRequest, "mode \(m.debugDescription) must be recursive or direct") }
            mode = pm
        }
        if let s = q.get("shard-size"), !s.isEmpty {
            guard let n = UInt64(s) else { throw APIError(.badRequest, "parameter shard-size=\(s.debugDescription) is not a size in bytes") }
            o.shardSize = n
        }
        if let list = q.get("user-allocations"), !list.isEmpty {
            o.userAllocations = try list.split(separator: ",").map { p in
                do { return try PeerID(String(p)) } catch { throw APIError(.badRequest, "user-allocations: \(String(p).debugDescription) is not a peer ID") }
            }
        }
        if let t = q.get("expire-at"), !t.isEmpty {
            guard let ts = Timestamp(rfc3339: t) else { throw APIError(.badRequest, "expire-at \(t.debugDescription) is not an RFC 3339 time") }
            o.expireAt = ts
        }
        if let d = q.get("expire-in"), !d.isEmpty {
            guard let dur = GoDuration.parse(d), dur > .zero else { throw APIError(.badRequest, "expire-in \(d.debugDescription) is not a positive duration like 1h30m") }
            let (s, atto) = dur.components
            o.expireAt = Timestamp(unixMillis: Timestamp.now().unixMillis + s * 1000 + atto / 1_000_000_000_000_000)
        }
        if let u = q.get("pin-update"), !u.isEmpty { o.pinUpdate = try cid(u) }
        if let list = q.get("origins"), !list.isEmpty {
            o.origins = try list.split(separator: ",").map { a in
                do { return try Multiaddr(String(a)) } catch { throw APIError(.badRequest, "origins: \(String(a).debugDescription) is not a multiaddr") }
            }
        }
        for (k, v) in q where k.hasPrefix("meta-") { o.metadata[String(k.dropFirst(5))] = String(v) }
        return (o, mode)
    }

    /// A streamed NDJSON answer: `produce` emits items as it finds them (each emit waits for
    /// the client to take the previous one: memory stays bounded). No item: 204. An error
    /// before the first item: that error's status; after: the `X-Stream-Error` trailer.
    static func stream(_ produce: @escaping @Sendable (_ emit: @Sendable (any Encodable & Sendable) async throws -> Void) async throws -> Void) async -> Response {
        let buffer = LineBuffer()
        let producer = Task {
            do {
                try await produce { item in
                    var line = try encoder.encode(item)
                    line.append(0x0A)
                    try await buffer.append([UInt8](line))
                }
                buffer.finish()
            } catch {
                buffer.finish(error)
            }
        }
        let first: [UInt8]?
        do {
            first = try await buffer.take()
        } catch {
            producer.cancel()
            return failure(error)
        }
        guard let first else { return Response(status: .noContent) }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[HTTPFields.Element.Name("X-Chunked-Output")!] = "1"
        headers[HTTPFields.Element.Name("Trailer")!] = "X-Stream-Error"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var trailer: HTTPFields?
                // The producer stops when the client goes away (a write throws) or at the end.
                defer {
                    producer.cancel()
                    buffer.finish()
                }
                try await writer.write(ByteBuffer(bytes: first))
                do {
                    while let chunk = try await buffer.take() { try await writer.write(ByteBuffer(bytes: chunk)) }
                } catch {
                    var t = HTTPFields()
                    t[HTTPFields.Element.Name("X-Stream-Error")!] = "\(error)".replacingOccurrences(of: "\n", with: " ")
                    trailer = t
                }
                try await writer.finish(trailer)
            })
    }
}

/// A list appended to from `@Sendable` callbacks.
final class LockedList<T>: @unchecked Sendable {
    private var storage: [T] = []
    private let lock = NSLock()
    func append(_ x: T) { lock.withLock { storage.append(x) } }
    var items: [T] { lock.withLock { storage } }
}

/// The configured `headers`, added to every answer.
struct ExtraHeaders: RouterMiddleware {
    typealias Context = BasicRequestContext
    let headers: [String: [String]]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        for (name, values) in headers {
            guard let n = HTTPFields.Element.Name(name) else { continue }
            for v in values { response.headers.append(HTTPFields.Element(name: n, value: v)) }
        }
        return response
    }
}

/// Compares without leaking where the first difference is.
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in a.indices { diff |= a[i] ^ b[i] }
    return diff == 0
}
