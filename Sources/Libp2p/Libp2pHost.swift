public import Logging
public import Multiformats
public import NIOCore
public import Sodium
import Libp2pCore
import NIOConcurrencyHelpers
import NIOPosix

/// A libp2p host over TCP: Noise, yamux, identify, ping, and stream handlers by protocol
/// (see Specs/libp2p.md).
///
/// - Dials and accepts TCP, negotiates `/noise` (answering `na` to anything else, such as
///   kubo's `/tls/1.0.0`), then `/yamux/1.0.0`; every phase is bounded by `dialTimeout`.
/// - On every new connection identify runs both ways; identify and ping are answered.
/// - Inbound streams negotiate their protocol; an unknown one gets `na`, a registered one
///   runs its handler on a new task. Several connections to one peer may be open; streams
///   use the first.
public final class Libp2pHost: Sendable {
    struct PeerRecord {
        var connections: [Libp2pConnection] = []
        var protocols: [String] = []
        var agentVersion: String?
        var identified = false
        var identifyWaiters: [CheckedContinuation<Void, Never>] = []
        var addresses: [Multiaddr] = []
    }

    struct State {
        var handlers: [String: @Sendable (Libp2pStream) async -> Void] = [:]
        var peers: [PeerID: PeerRecord] = [:]
        var subscribers: [Int: AsyncStream<Libp2pPeerEvent>.Continuation] = [:]
        var nextSubscriber = 0
        var servers: [any Channel] = []
        var listenAddresses: [Multiaddr] = []
        var connectionCount = 0
        var running = false
        var shutDown = false
    }

    let settings: Libp2pSettings
    let group: any EventLoopGroup
    let logger: Logger
    let noiseIdentity: Libp2pNoiseIdentity
    let state = NIOLockedValueBox(State())

    public init(identity: Ed25519.PrivateKey, settings: Libp2pSettings, group: any EventLoopGroup, logger: Logger) {
        self.settings = settings
        self.group = group
        self.logger = logger
        noiseIdentity = Libp2pNoiseIdentity(identity: identity, staticKey: .generate())
        registerBuiltinHandlers()
    }

    public var peerID: PeerID { noiseIdentity.peerID }

    /// Binds every listen address.
    public func start() async throws {
        guard state.withLockedValue({ !$0.running && !$0.shutDown }) else {
            throw Libp2pError(.notRunning, "the libp2p host was already started or shut down")
        }
        var bound: [Multiaddr] = []
        for address in settings.listen {
            let (host, port, _) = try Libp2pHost.tcpTarget(address, purpose: "listen on")
            let channel: any Channel
            do {
                channel = try await serverBootstrap().bind(host: host, port: port).get()
            } catch {
                throw Libp2pError(.dialFailed, "listen on \(address): \(error); pick another port or address")
            }
            state.withLockedValue { $0.servers.append(channel) }
            if let local = channel.localAddress, let a = Libp2pHost.multiaddr(local) { bound.append(a) }
        }
        state.withLockedValue {
            $0.listenAddresses = bound
            $0.running = true
        }
    }

    /// Bound addresses (real ports), without /p2p/.
    public var listenAddresses: [Multiaddr] { state.withLockedValue { $0.listenAddresses } }

    /// Registers the handler for inbound streams of `protocolID` (e.g. "/ipfs/bitswap/1.2.0").
    /// The handler owns the stream; it is called on a new Task per stream. Register before start().
    public func setStreamHandler(_ protocolID: String, _ handler: @escaping @Sendable (Libp2pStream) async -> Void) {
        state.withLockedValue { $0.handlers[protocolID] = handler }
    }

    public func connectedPeers() -> [Libp2pPeerInfo] {
        state.withLockedValue { s in
            s.peers.sorted { $0.key < $1.key }.flatMap { peer, record in
                record.connections.map {
                    Libp2pPeerInfo(peer: peer, address: $0.remoteAddress, direction: $0.direction, agentVersion: record.agentVersion)
                }
            }
        }
    }

    /// The protocols a peer announced in identify (empty until identify finished).
    public func protocols(of peer: PeerID) -> [String] {
        state.withLockedValue { $0.peers[peer]?.protocols ?? [] }
    }

    /// Every subscriber gets every event after subscribing.
    public func peerEvents() -> AsyncStream<Libp2pPeerEvent> {
        let (stream, continuation) = AsyncStream<Libp2pPeerEvent>.makeStream()
        let id = state.withLockedValue { s -> Int? in
            guard !s.shutDown else { return nil }
            s.nextSubscriber += 1
            s.subscribers[s.nextSubscriber] = continuation
            return s.nextSubscriber
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLockedValue { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public func shutdown() async {
        let (servers, connections, subscribers) = state.withLockedValue { s in
            s.shutDown = true
            s.running = false
            defer { s.servers = []; s.subscribers = [:] }
            return (s.servers, s.peers.values.flatMap(\.connections), Array(s.subscribers.values))
        }
        for server in servers { try? await server.close() }
        for c in connections { try? await c.channel.close() }
        for s in subscribers { s.finish() }
    }

    func emit(_ event: Libp2pPeerEvent) {
        for s in state.withLockedValue({ Array($0.subscribers.values) }) { s.yield(event) }
    }

    private func serverBootstrap() -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: Libp2pHost.receiveBuffers)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try acceptInbound(channel) }
            }
    }

    /// Installs an inbound connection, or closes it beyond `maxConnections` or after shutdown.
    private func acceptInbound(_ channel: any Channel) throws {
        let admitted = state.withLockedValue { s -> Bool in
            guard s.running, s.connectionCount < settings.maxConnections else { return false }
            s.connectionCount += 1
            return true
        }
        guard admitted, let remote = channel.remoteAddress.flatMap(Libp2pHost.multiaddr) else {
            if admitted { state.withLockedValue { $0.connectionCount -= 1 } }
            channel.close(promise: nil)
            return
        }
        let connection = Libp2pConnection(channel: channel, host: self, direction: .inbound, remoteAddress: remote, expectedPeer: nil,
            deadline: .now() + TimeAmount(settings.dialTimeout))
        channel.closeFuture.whenComplete { [self] _ in state.withLockedValue { $0.connectionCount -= 1 } }
        try channel.pipeline.syncOperations.addHandler(Libp2pConnectionHandler(connection: connection))
    }

    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 2048, initial: 64 * 1024, maximum: 1024 * 1024)
}
