public import Hummingbird
import ClusterModel
import Datastore
import Foundation
public import Logging
import Multiformats
import NIOCore
import UnixFS

/// The embedded node's HTTP RPC API, shaped as kubo's (`POST /api/v0/<command>`), so existing
/// kubo clients, and PinMesh's own connector, work against it unchanged. `Specs/embedded-ipfs.md`
/// lists every command, the parameters honoured and each deliberate difference from kubo.
public struct KuboRPCServer: HTTPResponder, Sendable {
    public typealias Context = BasicRequestContext
    public let repo: IPFSRepo
    let logger: Logger
    /// The node's connections to other IPFS nodes; nil: offline (no libp2p host).
    let swarm: (any IPFSSwarm)?

    public init(repo: IPFSRepo, swarm: (any IPFSSwarm)? = nil, logger: Logger = Logger(label: "pinmesh.ipfs")) {
        self.repo = repo
        self.swarm = swarm
        self.logger = logger
    }

    /// The version the API reports: the kubo RPC API it follows.
    public static let kuboAPIVersion = "0.40.0"

    static let originHeader = HTTPFields.Element.Name("Origin")!

    typealias Handler = @Sendable (KuboRPCServer, RPCCall, Request) async throws -> Response

    static let commands: [String: Handler] = [
        "id": { s, c, _ in try s.id(c) },
        "version": { s, c, _ in s.version(c) },
        "add": { s, c, r in try await s.add(c, r) },
        "cat": { s, c, _ in try await s.cat(c) },
        "block/put": { s, c, r in try await s.blockPut(c, r) },
        "block/get": { s, c, _ in try s.blockGet(c) },
        "block/stat": { s, c, _ in try s.blockStat(c) },
        "block/rm": { s, c, _ in try s.blockRm(c) },
        "pin/add": { s, c, r in try await s.pinAdd(c, r) },
        "pin/rm": { s, c, _ in try s.pinRm(c) },
        "pin/ls": { s, c, _ in try s.pinLs(c) },
        "pin/update": { s, c, r in try await s.pinUpdate(c, r) },
        "pin/verify": { s, c, _ in try s.pinVerify(c) },
        "refs": { s, c, _ in try await s.refs(c) },
        "refs/local": { s, c, _ in s.refsLocal(c) },
        "repo/stat": { s, c, _ in try s.repoStat(c) },
        "repo/gc": { s, c, _ in try s.repoGC(c) },
        "dag/export": { s, c, _ in try s.dagExport(c) },
        "dag/import": { s, c, r in try await s.dagImport(c, r) },
        "resolve": { s, c, _ in try s.resolve(c) },
        "swarm/peers": { s, c, _ in try s.swarmPeers(c) },
        "routing/findprovs": { s, c, _ in try await s.findProviders(c) },
        "routing/provide": { s, c, _ in try await s.provide(c) },
        "dht/findprovs": { s, c, _ in try await s.findProviders(c) },
        "dht/provide": { s, c, _ in try await s.provide(c) },
        "swarm/connect": { s, c, _ in try await s.swarmConnect(c) },
        "swarm/disconnect": { s, c, _ in try await s.swarmDisconnect(c) },
        "swarm/addrs/listen": { s, _, _ in s.swarmListen() },
        "swarm/addrs/local": { s, c, _ in try s.swarmLocal(c) },
        "ls": { s, c, _ in try await s.ls(c) },
        "get": { s, c, _ in try await s.get(c) },
        "dag/get": { s, c, _ in try await s.dagGet(c) },
        "dag/put": { s, c, r in try await s.dagPut(c, r) },
        "dag/stat": { s, c, _ in try await s.dagStat(c) },
        "dag/resolve": { s, c, _ in try await s.dagResolve(c) },
        "object/stat": { s, c, _ in try await s.objectStat(c) },
        "cid/format": { s, c, _ in try s.cidFormat(c) },
        "cid/base32": { s, c, _ in try s.cidBase32(c) },
        "cid/bases": { s, c, _ in try s.cidBases(c) },
        "cid/codecs": { s, c, _ in try s.cidCodecs(c) },
        "cid/hashes": { s, c, _ in try s.cidHashes(c) },
        "key/list": { s, c, _ in try s.keyList(c) },
        "key/ls": { s, c, _ in try s.keyList(c) },
        "config": { s, c, _ in try await s.config(c) },
        "config/show": { s, c, _ in try s.configShow(c) },
        "stats/repo": { s, c, _ in try s.repoStat(c) },
        "repo/verify": { s, c, _ in try s.repoVerify(c) },
        "repo/version": { _, _, _ in Self.json("{\"Version\":\"18\"}") },
    ]

    public static var commandNames: [String] { commands.keys.sorted() }

    public func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        let path = request.uri.path
        guard path.hasPrefix("/api/v0/") else { return Self.plain(.notFound, "404 page not found\n") }
        var name = String(path.dropFirst("/api/v0/".count))
        while name.hasSuffix("/") { name.removeLast() }
        guard let handler = Self.commands[name] ?? Self.unsupported(name) else { return Self.plain(.notFound, "404 page not found\n") }
        guard request.method == .post else {
            return Self.plain(.methodNotAllowed, "405 - Method Not Allowed\n")
        }
        if let why = RequestOrigin.refusal(
            origin: request.headers[Self.originHeader], authority: request.head.authority, allowedOrigins: repo.config.allowedOrigins)
        {
            logger.notice("ipfs rpc \(name) refused", metadata: ["reason": "\(why)"])
            return Self.plain(.forbidden, "403 - Forbidden\n")
        }
        do {
            let call = try RPCCall(command: name, query: request.uri.query)
            if let timeout = try call.timeout() {
                return try await Self.withDeadline(timeout) { try await handler(self, call, request) }
            }
            return try await handler(self, call, request)
        } catch let e as KuboError {
            return Self.error(e)
        } catch let e as RepoError {
            return Self.error(Self.kubo(e))
        } catch is CancellationError {
            return Self.error(.normal("context canceled"))
        } catch let e as DeadlineExceeded {
            _ = e
            return Self.error(.normal("context deadline exceeded"))
        } catch {
            logger.warning("ipfs rpc \(name) failed", metadata: ["error": "\(error)"])
            return Self.error(.normal("\(error)"))
        }
    }

    /// The repository's errors as the API reports them: refused input is the client's error
    /// (400), the rest the command's (500). Their messages already use kubo's wording where
    /// clients match on it ("could not find", "not pinned or pinned indirectly").
    static func kubo(_ e: RepoError) -> KuboError {
        switch e.code {
        case .hashMismatch, .unsupportedHash, .tooLarge: return .client(e.message)
        default: return .normal(e.message)
        }
    }

    struct DeadlineExceeded: Error {}

    static func withDeadline<T: Sendable>(_ d: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { g in
            g.addTask { try await body() }
            g.addTask {
                try await Task.sleep(for: d)
                throw DeadlineExceeded()
            }
            defer { g.cancelAll() }
            return try await g.next()!
        }
    }

    // MARK: responses

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(_ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    static func error(_ e: KuboError) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(
            status: .init(code: e.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: e.json + "\n")))
    }

    typealias Field = HTTPFields.Element
    static let streamErrorName = Field.Name("X-Stream-Error")!
    static let trailerName = Field.Name("Trailer")!
    static let chunkedName = Field.Name("X-Chunked-Output")!
    static let streamOutputName = Field.Name("X-Stream-Output")!

    /// A streamed response as kubo sends one: `X-Chunked-Output: 1`, chunked, and an error
    /// after the headers went out reported in the `X-Stream-Error` trailer.
    static func stream(
        contentType: String = "application/json", output: Bool = false,
        _ produce: @escaping @Sendable (Emitter) async throws -> Void
    ) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[chunkedName] = "1"
        if output { headers[streamOutputName] = "1" }
        headers[trailerName] = "X-Stream-Error"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                let emitter = Emitter(writer: writer)
                var trailer: HTTPFields?
                do {
                    try await produce(emitter)
                    try await emitter.flush()
                } catch {
                    let message: String
                    switch error {
                    case let e as KuboError: message = e.message
                    case let e as RepoError: message = kubo(e).message
                    case is CancellationError: message = "context canceled"
                    default: message = "\(error)"
                    }
                    try? await emitter.flush()
                    var t = HTTPFields()
                    t[streamErrorName] = message.replacingOccurrences(of: "\n", with: " ")
                    trailer = t
                }
                writer = emitter.writer
                try await writer.finish(trailer)
            })
    }

    // MARK: id, version, swarm

    func id(_ c: RPCCall) throws -> Response {
        if let other = c.args.first, other != repo.peerID.description {
            throw KuboError.normal("peer \(other) is not this node; the embedded node answers only for itself")
        }
        // An Ed25519 peer ID inlines its protobuf public key: the identity multihash's digest.
        let pub = repo.peerID.multihash.digest
        let addresses = swarm?.addresses.map(\.description) ?? []
        let agent = swarm?.agentVersion ?? "pinmesh/\(PinMeshVersion.string)"
        return Self.json(
            "{\"ID\":\"\(repo.peerID)\",\"PublicKey\":\"\(Data(pub).base64EncodedString())\",\"Addresses\":\(JSONText.strings(addresses)),"
                + "\"AgentVersion\":\"\(agent)\",\"Protocols\":\(JSONText.strings(swarm?.protocols.sorted() ?? []))}")
    }

    func version(_ c: RPCCall) -> Response {
        #if arch(x86_64)
        let arch = "amd64"
        #else
        let arch = "arm64"
        #endif
        return Self.json(
            "{\"Version\":\"\(Self.kuboAPIVersion)\",\"Commit\":\"pinmesh-\(PinMeshVersion.string)\",\"Repo\":\"18\",\"System\":\"\(arch)/linux\",\"Golang\":\"none (PinMesh embedded node)\"}"
        )
    }
}

/// Buffers output lines and writes them in chunks of about 64 KiB.
final class Emitter: @unchecked Sendable {
    var writer: any ResponseBodyWriter
    private var buffer = ByteBuffer()

    init(writer: any ResponseBodyWriter) {
        self.writer = writer
        buffer.reserveCapacity(80 << 10)
    }

    func line(_ text: String) async throws {
        buffer.writeString(text)
        buffer.writeInteger(UInt8(ascii: "\n"))
        if buffer.readableBytes >= 64 << 10 { try await flush() }
    }

    func bytes(_ b: [UInt8]) async throws {
        buffer.writeBytes(b)
        if buffer.readableBytes >= 64 << 10 { try await flush() }
    }

    func flush() async throws {
        guard buffer.readableBytes > 0 else { return }
        let out = buffer
        buffer = ByteBuffer()
        buffer.reserveCapacity(80 << 10)
        try await writer.write(out)
    }
}

extension KuboRPCServer {
    /// A Hummingbird application serving this API on `host:port` (port 0: one the OS picks;
    /// `onRunning` gets the bound port). Run it with `runService()` or in a `ServiceGroup`.
    public func application(
        host: String = "127.0.0.1", port: Int = 5091, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> Application<KuboRPCServer> {
        var config = ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil)
        config.serverName = nil
        return Application(
            responder: self, configuration: config,
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) }, logger: logger)
    }
}
