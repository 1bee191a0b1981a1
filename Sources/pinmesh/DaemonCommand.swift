import ArgumentParser
import ClusterModel
import EmbeddedIPFS
import Foundation
import Hummingbird
import IPFSConnector
import Logging
import Metrics
import Multiformats
import NIOCore
import NIOPosix
import Node
import Prometheus
import RESTAPI
import ServiceLifecycle
import Sodium
import Transport
import UnixSignals

/// `pinmesh daemon`: runs the cluster peer (and the embedded IPFS node unless configured for
/// kubo), the REST API and the Prometheus endpoint, under swift-service-lifecycle. SIGINT or
/// SIGTERM shut down gracefully (pinset writes committed, running pins cancelled cleanly); a
/// second signal exits at once.
struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon", abstract: "Run the cluster peer.",
        discussion: "Reads service.json and identity.json from --config (see `pinmesh init`).")

    @OptionGroup var config: ConfigOptions

    @Option(help: "Peers to join through, comma-separated multiaddrs (…/tcp/9096/p2p/12D3KooW…); replaces cluster.peer_addresses.")
    var bootstrap: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        let dir = config.path
        let (service, notes, identity) = try Self.loadConfiguration(config)
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level \(logLevel): use trace, debug, info, notice, warning, error or critical")
        }
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let registry = PrometheusCollectorRegistry()
        if service.metrics.enableStats { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
        var logger = Logger(label: "pinmesh")
        logger[metadataKey: "peer"] = "\(service.cluster.peername)"
        Self.warnIgnored(notes, logger: logger)

        var settings = try ClusterPeer.Settings(config: service, dataDirectory: dir)
        if let bootstrap {
            do {
                settings.bootstrap = try bootstrap.split(separator: ",").map { try Multiaddr(String($0).trimmingCharacters(in: .whitespaces)) }
            } catch {
                throw ValidationError("--bootstrap: \(error); write addresses as /ip4/10.0.0.1/tcp/9096/p2p/12D3KooW…")
            }
        }
        let ipfs = service.ipfsConnector.ipfshttp
        let (ipfsHost, ipfsPort) = try Self.hostPort(ipfs.nodeMultiaddress, key: "ipfs_connector.ipfshttp.node_multiaddress")
        let connector = try KuboConnector(nodeMultiaddress: ipfs.nodeMultiaddress, logger: logger)
        var services: [any Service] = []
        let gate = ListenerGate()
        var repo: IPFSRepo?
        var node: EmbeddedNode?
        if ipfs.embedded {
            let root = (dir as NSString).appendingPathComponent("ipfs")
            try IPFSRepo.initialize(at: root, api: ipfs.nodeMultiaddress)
            let r = try IPFSRepo(root: root)
            repo = r
            do {
                node = try EmbeddedNode(repo: r, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
            } catch {
                throw StartupError(description: "the embedded IPFS node's config (\(root)/config): \(error)")
            }
            let rpc = KuboRPCServer(repo: r, swarm: node, logger: logger)
            services.append(
                gate.listener("embedded IPFS node's RPC API", key: "ipfs_connector.ipfshttp.node_multiaddress", host: ipfsHost, port: ipfsPort) {
                    rpc.application(host: ipfsHost, port: ipfsPort, onRunning: $0)
                })
        }
        var localBlocks: PeerBlocks.LocalBlocks?
        if let r = repo { localBlocks = { @Sendable cid in r.blocks.has(cid) ? try r.block(cid) : nil } }
        let peer = try ClusterPeer(
            settings: settings, identity: identity.key, secret: SecureBytes(service.secretBytes), connector: connector,
            group: MultiThreadedEventLoopGroup.singleton, localBlocks: localBlocks, blockStore: repo.map { LocalBlockStore(repo: $0) }, logger: logger)
        if let repo { PeerBlockFetcher.install(on: repo, transport: peer.transport, network: node?.fetcher, logger: logger) }
        node?.useAllocations(of: peer)
        let bitswap = node?.bitswap
        await peer.addActivityInformers(
            ipfs: bitswap.map { b in
                { @Sendable in (UInt64(await b.clientCounters.blockBytesReceived), UInt64(await b.serverCounters.blockBytesSent)) }
            })
        let gateway = try Self.gatewayServices(repo: repo, node: node, gate: gate, logger: logger)
        services += gateway.services

        let rest = service.api.restapi
        let restListeners = try rest.httpListenMultiaddress.enumerated().map { i, a in
            try Self.hostPort(a, key: "api.restapi.http_listen_multiaddress[\(i)]")
        }
        let (apiHost, apiPort) = restListeners[0]
        var restSettings = RESTAPIServer.Settings()
        let ttl = GoDuration.parse(rest.tokenTtl) ?? .seconds(86400)
        restSettings.tokenLifetime = ttl == .zero ? nil : ttl
        restSettings.revocationFile = (dir as NSString).appendingPathComponent("revoked-tokens.json")
        restSettings.corsAllowedOrigins = rest.corsAllowedOrigins
        restSettings.corsAllowedMethods = rest.corsAllowedMethods
        restSettings.corsAllowedHeaders = rest.corsAllowedHeaders
        restSettings.corsExposedHeaders = rest.corsExposedHeaders
        restSettings.corsAllowCredentials = rest.corsAllowCredentials
        restSettings.corsMaxAge = GoDuration.parse(rest.corsMaxAge) ?? .zero
        restSettings.headers = rest.headers
        restSettings.readHeaderTimeout = GoDuration.parse(rest.readHeaderTimeout).flatMap { $0 == .zero ? nil : $0 }
        restSettings.idleTimeout = GoDuration.parse(rest.idleTimeout).flatMap { $0 == .zero ? nil : $0 }
        if !rest.sslCertFile.isEmpty {
            let path = { (file: String) in file.hasPrefix("/") ? file : (dir as NSString).appendingPathComponent(file) }
            do {
                restSettings.tls = try RESTAPIServer.tlsConfiguration(certificateFile: path(rest.sslCertFile), keyFile: path(rest.sslKeyFile))
            } catch let error as RESTAPIServer.APIError {
                throw StartupError(description: "api.restapi.ssl_cert_file / ssl_key_file: \(error.message)")
            }
        }
        let restServer = RESTAPIServer(peer: peer, credentials: rest.basicAuthCredentials, settings: restSettings, logger: logger)
        for (i, (host, port)) in restListeners.enumerated() {
            services.append(
                try gate.listener("REST API", key: "api.restapi.http_listen_multiaddress[\(i)]", host: host, port: port) {
                    try restServer.application(host: host, port: port, onRunning: $0)
                })
        }
        let proxy = try Self.ipfsProxyServices(service, peer: peer, repo: repo, gate: gate, logger: logger)
        services += proxy.services
        let pinning = try Self.pinningServices(service, directory: dir, peer: peer, gate: gate, logger: logger)
        services += pinning.services
        if service.metrics.enableStats {
            let (mHost, mPort) = try Self.hostPort(service.metrics.prometheusEndpoint, key: "metrics.prometheus_endpoint")
            let router = Router()
            router.get("/metrics") { _, _ in
                var headers = HTTPFields()
                headers[.contentType] = "text/plain; version=0.0.4"
                return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            }
            services.append(
                gate.listener("Prometheus endpoint", key: "metrics.prometheus_endpoint", host: mHost, port: mPort) { running in
                    Application(
                        router: router, configuration: .init(address: .hostname(mHost, port: mPort), serverName: nil),
                        onServerRunning: { await running($0.localAddress?.port ?? mPort) }, logger: logger)
                })
        }
        let ready = """
            PinMesh \(service.cluster.peername) ready
              peer ID    \(identity.id)
              REST API   \(restSettings.tls == nil ? "http" : "https")://\(apiHost):\(apiPort)
              IPFS API   http://\(ipfsHost):\(ipfsPort)/api/v0\(ipfs.embedded ? " (embedded)" : "")
              IPFS proxy \(proxy.ready)
            \(pinning.line)
            """
        services.append(PeerService(peer: peer, node: node, ready: ready + gateway.lines, listeners: gate, logger: logger))
        // A second signal does not wait for the graceful shutdown.
        let forced = Task {
            var count = 0
            for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) {
                count += 1
                if count >= 2 {
                    FileHandle.standardError.write(Data("second signal: exiting without waiting for the shutdown to finish\n".utf8))
                    Foundation.exit(130)
                }
            }
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0, failureTerminationBehavior: .gracefullyShutdownGroup) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        forced.cancel()
        repo?.releaseLock()
    }

    static func hostPort(_ text: String, key: String) throws -> (String, Int) {
        guard let ma = try? Multiaddr(text), let (h, p) = SecureTransport.hostAndPort(ma) else {
            throw StartupError(description: "\(key): \(text.debugDescription) needs an /ip4|ip6/<host>/tcp/<port> address")
        }
        return (h, p)
    }
}

/// The cluster peer as a service: starts it, waits for the graceful shutdown, stops it.
/// The cluster peer (and the embedded IPFS node's libp2p side) as a service: starts them,
/// prints the ready block, waits for the graceful shutdown, stops them.
struct PeerService: Service {
    let peer: ClusterPeer
    let node: EmbeddedNode?
    let ready: String
    /// Every HTTP listener; the ready block waits until each is bound.
    let listeners: ListenerGate
    let logger: Logger

    func run() async throws {
        do {
            try await node?.start()
        } catch {
            throw StartupError(
                description: "the embedded IPFS node cannot listen on Addresses.Swarm \(node?.plan.listen.map(\.description) ?? []) (its config: <config>/ipfs/config): \(error)")
        }
        let port: Int
        do {
            port = try await peer.start()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            let address = "\(await peer.settings.listenHost):\(await peer.settings.listenPort)"
            throw StartupError(
                description: "the cluster peer cannot listen on \(address): another program uses that port (TCP or UDP). Stop it, or set cluster.listen_multiaddress to a free address")
        }
        // The ready block only once every listener is bound; a listener that fails shuts the
        // group down gracefully, which ends this wait too.
        let bound = await withGracefulShutdownHandler {
            await listeners.allBound()
        } onGracefulShutdown: {
            listeners.abandon()
        }
        guard bound else {
            await peer.stop()
            await node?.stop()
            return
        }
        // A wildcard listener is dialled on loopback from this machine.
        let host = await peer.settings.listenHost
        let dialable = host == "0.0.0.0" ? "/ip4/127.0.0.1" : host == "::" ? "/ip6/::1" : (host.contains(":") ? "/ip6/\(host)" : "/ip4/\(host)")
        var line = ready + "\n  cluster    \(dialable)/tcp/\(port)/p2p/\(peer.me)\n"
        for a in node?.addresses ?? [] { line += "  IPFS swarm \(a)\n" }
        FileHandle.standardOutput.write(Data(line.utf8))
        try? await gracefulShutdown()
        logger.info("shutting down: committing pinset writes, cancelling running pins")
        await peer.stop()
        await node?.stop()
    }
}

/// A failure to start, said as it is (no usage text: the command line was right).
struct StartupError: Error, CustomStringConvertible {
    let description: String
}
