public import EmbeddedIPFS
public import Hummingbird
public import Logging
import Multiformats
import NIOCore

/// The embedded node's HTTP gateway: the path gateway (`GET`/`HEAD /ipfs/<cid>[/path]`: UnixFS
/// files, directories, HAMT directories, `Range`) and the trustless gateway (`format=raw`,
/// `format=car` or their `Accept` types). `Specs/gateway.md` lists what is served, every header
/// and status, and the differences from kubo's gateway.
///
/// Blocks come from the repository's store, then its fetcher (cluster peers, then bitswap), each
/// within ``Settings/blockTimeout``. Files are streamed block by block. `/ipns/` is 501.
public struct GatewayServer: HTTPResponder, Sendable {
    public typealias Context = BasicRequestContext

    /// The gateway's limits.
    public struct Settings: Sendable {
        /// How long one missing block is waited for before the answer is 504.
        public var blockTimeout: Duration = .seconds(60)
        public init(blockTimeout: Duration = .seconds(60)) { self.blockTimeout = blockTimeout }
    }

    public let repo: IPFSRepo
    public let settings: Settings
    /// Where `/routing/v1/providers/{cid}` answers come from; nil: the Routing V1 API is off
    /// (kubo's `Gateway.ExposeRoutingAPI` false, its default).
    public let routing: (any RoutingProviderSource)?
    public let routingSettings: RoutingV1Settings
    let logger: Logger
    let blocks: GatewayBlocks

    public init(
        repo: IPFSRepo, settings: Settings = Settings(), routing: (any RoutingProviderSource)? = nil,
        routingSettings: RoutingV1Settings = RoutingV1Settings(), logger: Logger = Logger(label: "pinmesh.gateway")
    ) {
        self.repo = repo
        self.settings = settings
        self.routing = routing
        self.routingSettings = routingSettings
        self.logger = logger
        blocks = GatewayBlocks(repo: repo, timeout: settings.blockTimeout)
    }

    public func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        if request.uri.path.hasPrefix("/routing/v1/") || request.uri.path == "/routing/v1" {
            let r = await routingAnswer(request)
            return request.method == .head ? Self.headOnly(r) : r
        }
        guard request.method == .get || request.method == .head else {
            var r = Self.text(.methodNotAllowed, "the gateway answers GET and HEAD only")
            r.headers[.allow] = "GET, HEAD"
            return r
        }
        let head = request.method == .head
        switch await outcome(GatewayRequest(request)) {
        case .success(let response): return head ? Self.headOnly(response) : response
        case .failure(let e):
            if e.status >= 500 && e.status != 501 && e.status != 504 {
                logger.warning("gateway \(request.uri.path) failed", metadata: ["error": "\(e.message)"])
            }
            return Self.error(e)
        }
    }

    func outcome(_ req: GatewayRequest) async -> Result<Response, GatewayError> {
        do throws(GatewayError) {
            return .success(try await answer(req))
        } catch {
            return .failure(error)
        }
    }

    /// Routes a checked request to its answer.
    func answer(_ req: GatewayRequest) async throws(GatewayError) -> Response {
        let path = try GatewayPath.parse(req.path)
        let (format, fromAccept) = try GatewayFormat.negotiate(
            format: req.query("format"), accept: req.header(.accept), carVersion: req.query("car-version"),
            carOrder: req.query("car-order"), carDups: req.query("car-dups"))
        if req.header(Self.serviceWorker) == "script" && path.names.isEmpty && !path.trailingSlash {
            throw GatewayError(.badRequest, "a service worker may not be registered for all of /ipfs/\(path.cidText): use a path under /ipfs/\(path.cidText)/")
        }
        if let cc = req.header(.cacheControl), cc.lowercased().contains("only-if-cached"), !blocks.isLocal(path.cid) {
            throw GatewayError(.preconditionFailed, "only-if-cached: block \(path.cid) is not stored on this node")
        }
        var response: Response
        switch format {
        case .raw: response = try await raw(path, req)
        case .car(let dups): response = try await car(path, req, dups: dups)
        case .unixfs: return try await unixfs(path, req)
        }
        if fromAccept {
            let q = req.rawQuery.map { $0 + "&" } ?? ""
            response.headers[Self.contentLocation] = req.path + "?" + q + "format=" + (format == .raw ? "raw" : "car")
        }
        return response
    }
}

extension GatewayServer {
    /// A Hummingbird application serving the gateway on `host:port` (port 0: one the OS picks;
    /// `onRunning` gets the bound port). Run it with `runService()` or in a `ServiceGroup`.
    public func application(
        host: String = "127.0.0.1", port: Int = 8091, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> Application<GatewayServer> {
        let config = ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil)
        return Application(
            responder: self, configuration: config,
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) }, logger: logger)
    }
}
