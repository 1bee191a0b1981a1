import Libp2pCore
public import Multiformats
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

extension Libp2pHost {
    /// Dials `address` (/ip4|ip6|dns4|dns6/.../tcp/N[/p2p/ID]); returns the remote peer ID once the
    /// connection is secured and muxed. Reuses an open connection to that peer. Throws Libp2pError
    /// (with a message a user can act on: "dial /ip4/...: connection refused") on failure.
    @discardableResult public func connect(_ address: Multiaddr) async throws -> PeerID {
        let (host, port, expected) = try Libp2pHost.tcpTarget(address, purpose: "dial")
        guard state.withLockedValue({ !$0.shutDown }) else { throw Libp2pError(.notRunning, "dial \(address): the libp2p host is shut down") }
        if let expected, openConnection(to: expected) != nil { return expected }
        let target = address.withoutPeerID ?? address
        let deadline = NIODeadline.now() + TimeAmount(settings.dialTimeout)
        let loop = group.next()
        let made = NIOLockedValueBox<Libp2pConnection?>(nil)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(settings.dialTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: Libp2pHost.receiveBuffers)
            .channelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let c = Libp2pConnection(
                        channel: channel, host: self, direction: .outbound, remoteAddress: target, expectedPeer: expected, deadline: deadline)
                    try channel.pipeline.syncOperations.addHandler(Libp2pConnectionHandler(connection: c))
                    made.withLockedValue { $0 = c }
                }
            }
        do {
            _ = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            throw Libp2pError(.dialFailed, "dial \(address): \(Libp2pHost.reason(error))")
        }
        guard let connection = made.withLockedValue({ $0 }) else {
            throw Libp2pError(.dialFailed, "dial \(address): the connection was not set up")
        }
        let peer = try await connection.ready.futureResult.get()
        state.withLockedValue { s in
            if !s.peers[peer, default: PeerRecord()].addresses.contains(target) { s.peers[peer, default: PeerRecord()].addresses.insert(target, at: 0) }
        }
        return peer
    }

    /// Opens a stream to a connected peer (dials a known address of it when not connected), and
    /// negotiates the first protocol of `protocols` the peer supports (multistream-select).
    public func newStream(to peer: PeerID, protocols: [String]) async throws -> Libp2pStream {
        var connection = openConnection(to: peer)
        if connection == nil {
            let addresses = state.withLockedValue { $0.peers[peer]?.addresses ?? [] }
            var lastError: (any Error)?
            for a in addresses.prefix(4) {
                do {
                    try await connect(a.appending(.p2p(peer)))
                    connection = openConnection(to: peer)
                    if connection != nil { break }
                } catch { lastError = error }
            }
            guard connection != nil else {
                throw lastError ?? Libp2pError(.notConnected, "not connected to \(peer) and no address of it is known: connect to it first")
            }
        }
        let c = connection!
        return try await c.eventLoop.flatSubmit { c.openStream(protocols) }.get()
    }

    public func disconnect(_ peer: PeerID) async {
        let connections = state.withLockedValue { $0.peers[peer]?.connections ?? [] }
        for c in connections { try? await c.channel.close() }
    }

    func openConnection(to peer: PeerID) -> Libp2pConnection? {
        state.withLockedValue { $0.peers[peer]?.connections.first }
    }

    /// The host, port and optional peer of a TCP multiaddr.
    static func tcpTarget(_ address: Multiaddr, purpose: String) throws(Libp2pError) -> (String, Int, PeerID?) {
        let c = address.components
        var peer: PeerID?
        if c.count == 3, case .p2p(let id) = c[2] { peer = id } else if c.count != 2 {
            throw Libp2pError(.badAddress, "\(purpose) \(address): expected /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<id>]")
        }
        guard case .tcp(let port) = c[1] else {
            throw Libp2pError(.badAddress, "\(purpose) \(address): only TCP is supported (no QUIC, WebSocket or relay)")
        }
        switch c[0] {
        case .ip4(let a): return (a.description, Int(port), peer)
        case .ip6(let a): return (a.description, Int(port), peer)
        case .dns(let n), .dns4(let n), .dns6(let n): return (n, Int(port), peer)
        default: throw Libp2pError(.badAddress, "\(purpose) \(address): the first component must be ip4, ip6, dns, dns4 or dns6")
        }
    }

    /// `/ip4|ip6/<ip>/tcp/<port>` of a socket address.
    static func multiaddr(_ address: SocketAddress) -> Multiaddr? {
        guard let ip = address.ipAddress, let port = address.port else { return nil }
        let family = address.protocol == .inet6 ? "ip6" : "ip4"
        return try? Multiaddr("/\(family)/\(ip)/tcp/\(port)")
    }

    /// A short reason for a failed TCP connect ("connection refused").
    static func reason(_ error: any Error) -> String {
        if let e = error as? NIOConnectionError {
            if let first = e.connectionErrors.first { return reason(first.error) }
            return "the name did not resolve to an address"
        }
        if let e = error as? IOError { return String(cString: strerror(e.errnoCode)).lowercased() }
        if let e = error as? ChannelError, case .connectTimeout = e { return "the TCP connection timed out" }
        return "\(error)"
    }
}
