public import Logging
public import Multiformats
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix
public import SecureChannel

/// An authenticated, encrypted connection to one peer, carrying RPC calls both ways.
public struct PeerConnection: Sendable {
    public let peer: PeerID
    public let session: SecureSession
    let channel: any Channel

    /// Calls `method` on the peer; throws `remoteError`, `unknownMethod`, `timeout` or
    /// `connectionClosed`.
    public func call(_ method: String, _ payload: [UInt8], timeout: Duration = .seconds(10)) async throws -> [UInt8] {
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        let amount = TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + Int64(timeout.components.attoseconds / 1_000_000_000))
        channel.writeAndFlush(RPCOutbound.call(method: method, payload: payload, promise: promise, timeout: amount))
            .whenFailure { promise.fail($0) }
        return try await promise.futureResult.get()
    }

    public var isActive: Bool { channel.isActive }

    public func close() async {
        try? await channel.close()
    }
}

/// Listens and dials over TCP; every connection runs the PinMesh handshake and then RPC.
public final class SecureTransport: Sendable {
    public let settings: HandshakeSettings
    public let localPeer: PeerID
    public let server = RPCServer()
    private let group: any EventLoopGroup
    private let logger: Logger
    private let connections = NIOLockedValueBox<[PeerID: PeerConnection]>([:])
    private let listener = NIOLockedValueBox<(any Channel)?>(nil)

    public init(settings: HandshakeSettings, group: any EventLoopGroup, logger: Logger = Logger(label: "pinmesh.transport")) {
        self.settings = settings
        self.group = group
        var logger = logger
        localPeer = try! PeerID(ed25519PublicKey: settings.identity.publicKey.bytes)
        logger[metadataKey: "peer"] = "\(localPeer)"
        self.logger = logger
    }

    /// The live connection to `peer`, if any (dialled or accepted).
    public func connection(to peer: PeerID) -> PeerConnection? {
        connections.withLockedValue { $0[peer] }.flatMap { $0.isActive ? $0 : nil }
    }

    /// Peers with a live connection, sorted.
    public var connectedPeers: [PeerID] {
        connections.withLockedValue { $0.values.filter(\.isActive).map(\.peer) }.sorted()
    }

    /// Starts accepting connections; returns the bound port (pass 0 for one the OS picks).
    public func listen(host: String = "127.0.0.1", port: Int = 0) async throws -> Int {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.install(on: channel, role: .responder)
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        listener.withLockedValue { $0 = channel }
        return channel.localAddress?.port ?? port
    }

    /// Dials a multiaddr `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<id>]`; with a `/p2p`
    /// part, the peer must prove that identity.
    public func dial(_ address: Multiaddr) async throws -> PeerConnection {
        guard let (host, port) = Self.hostAndPort(address) else {
            throw TransportError(.badAddress, "cannot dial \(address): expected /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<id>]")
        }
        if let expected = address.peerID, let existing = connection(to: expected) { return existing }
        let established = NIOLockedValueBox<EventLoopFuture<SecureSession>?>(nil)
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let future = try self.install(on: channel, role: .initiator(expected: address.peerID))
                    established.withLockedValue { $0 = future }
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            throw TransportError(.unreachable, "cannot connect to \(address): \(error)")
        }
        let session = try await established.withLockedValue { $0! }.get()
        return PeerConnection(peer: session.peer, session: session, channel: channel)
    }

    /// Installs the handshake and RPC handlers; returns the future of the handshake.
    @discardableResult
    private func install(on channel: any Channel, role: HandshakeInstance.Role) throws -> EventLoopFuture<SecureSession> {
        let promise = channel.eventLoop.makePromise(of: SecureSession.self)
        var isInitiator = false
        if case .initiator = role { isInitiator = true }
        let handshake = HandshakeInstance(role: role, settings: settings, now: SecureChannelHandler.now())
        try channel.pipeline.syncOperations.addHandlers([
            SecureChannelHandler(handshake: handshake, isInitiator: isInitiator, timeout: settings.timeout, established: promise, logger: logger),
            RPCHandler(server: server, logger: logger),
        ])
        promise.futureResult.whenSuccess { [self] session in
            let connection = PeerConnection(peer: session.peer, session: session, channel: channel)
            connections.withLockedValue { $0[session.peer] = connection }
            logger.debug("connected", metadata: ["remote": "\(session.peer)", "cipher": "\(session.cipher)"])
        }
        channel.closeFuture.whenComplete { [self] _ in
            connections.withLockedValue { table in
                if let c = table.values.first(where: { $0.channel === channel }) { table[c.peer] = nil }
            }
        }
        return promise.futureResult
    }

    /// Closes the listener and every connection.
    public func shutdown() async {
        if let l = listener.withLockedValue({ $0 }) { try? await l.close() }
        for c in connections.withLockedValue({ Array($0.values) }) { await c.close() }
        connections.withLockedValue { $0 = [:] }
    }

    static func hostAndPort(_ address: Multiaddr) -> (String, Int)? {
        guard address.components.count >= 2, case .tcp(let port) = address.components[1] else { return nil }
        switch address.components[0] {
        case .ip4(let a): return (a.description, Int(port))
        case .ip6(let a): return (a.description, Int(port))
        case .dns(let n), .dns4(let n), .dns6(let n): return (n, Int(port))
        default: return nil
        }
    }
}
