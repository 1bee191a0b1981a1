public import Logging
public import Multiformats
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix
import Sodium
import ClusterModel
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
            .whenFailure { [peer] in promise.fail(TransportError.closed(peer, $0)) }
        return try await promise.futureResult.get()
    }

    /// Sends a one-way message to `method` on the peer: written in call order, never answered.
    /// Throws `tooLarge` over ``RPCFrame/maxPayload``; a closed connection drops it silently.
    public func send(_ method: String, _ payload: [UInt8]) throws(TransportError) {
        guard payload.count <= RPCFrame.maxPayload else {
            throw TransportError(.tooLarge, "one-way payload of \(payload.count) bytes exceeds \(RPCFrame.maxPayload)")
        }
        channel.writeAndFlush(RPCOutbound.frame(.message(method: method, payload: payload)), promise: nil)
    }

    /// Opens a stream served by the peer's stream handler of `method`, sending `payload` (at
    /// most one window and ``RPCFrame/maxPayload`` bytes) with the open. With a `deadline`, a
    /// stream not closed both ways by then is reset on both sides (reads and writes here fail
    /// with `timeout`).
    public func openStream(_ method: String, payload: [UInt8] = [], deadline: Duration? = nil) async throws -> PeerStream {
        let promise = channel.eventLoop.makePromise(of: PeerStream.self)
        let amount = deadline.map { TimeAmount.nanoseconds(Int64($0.components.seconds) * 1_000_000_000 + Int64($0.components.attoseconds / 1_000_000_000)) }
        channel.writeAndFlush(RPCOutbound.openStream(method: method, payload: payload, deadline: amount, promise: promise))
            .whenFailure { [peer] in promise.fail(TransportError.closed(peer, $0)) }
        return try await promise.futureResult.get()
    }

    public var isActive: Bool { channel.isActive }

    public func close() async {
        try? await channel.close()
    }
}

/// A peer's connection came up or went away (at most one live connection per peer).
public enum ConnectionEvent: Sendable, Equatable {
    /// `outbound`: we dialled it.
    case connected(outbound: Bool)
    case disconnected
}

/// Listens and dials over TCP; every connection runs the PinMesh handshake and then RPC.
public final class SecureTransport: Sendable {
    public let settings: HandshakeSettings
    public let localPeer: PeerID
    public let server = RPCServer()
    let traffic = TrafficCounter()
    /// Bytes moved so far over every connection and datagram, sealed, as on the wire.
    public var trafficTotals: TrafficTotals { traffic.totals.withLockedValue { $0 } }
    private let group: any EventLoopGroup
    private let logger: Logger
    private let connections = NIOLockedValueBox<[PeerID: PeerConnection]>([:])
    private let listener = NIOLockedValueBox<(any Channel)?>(nil)
    private let udp = NIOLockedValueBox<(any Channel)?>(nil)
    /// Datagram sessions by our receive id, and by peer.
    private let datagramPeers = NIOLockedValueBox<(byID: [UInt64: DatagramPeer], byPeer: [PeerID: DatagramPeer])>(([:], [:]))
    private let datagramHandler = NIOLockedValueBox<RPCServer.OneWayBox?>(nil)
    private let pendingHandshakes = NIOLockedValueBox(0)
    private let ephemerals = EphemeralKeys()
    /// Datagram messages waiting for the end of the UDP loop's turn, by peer.
    private let outgoing = NIOLockedValueBox<(queues: [PeerID: [[UInt8]]], scheduled: Bool)>(([:], false))
    private let connectionHandlers = NIOLockedValueBox<[@Sendable (PeerID, ConnectionEvent) -> Void]>([])

    /// Adds a handler told when a peer gets its (one) connection and when it loses it; called on
    /// an event loop, so it must hand off quickly. A duplicate connection that loses the
    /// simultaneous-dial rule, or replaces a live one, causes no event.
    public func onConnectionChange(_ handler: @escaping @Sendable (_ peer: PeerID, _ event: ConnectionEvent) -> Void) {
        connectionHandlers.withLockedValue { $0.append(handler) }
    }

    private func notify(_ peer: PeerID, _ event: ConnectionEvent) {
        for handler in connectionHandlers.withLockedValue({ $0 }) { handler(peer, event) }
    }

    /// Inbound handshakes in progress beyond this are refused at once (a flood of half-open
    /// connections cannot exhaust the peer).
    public let maxPendingHandshakes: Int
    /// Connections beyond this are refused.
    public let maxConnections: Int
    /// Calls one peer may have in flight on this transport; more are answered "busy" at once.
    public let maxConcurrentCallsPerPeer: Int
    /// Streams one peer may have open on this transport; more are reset "busy" at once.
    public let maxStreamsPerPeer: Int
    /// Bytes a stream's sender may have unread by the receiver (each direction, each stream).
    public let streamWindow: Int
    /// Whether small frames written in one event-loop turn share a record (on by default; the
    /// benchmark turns it off to measure what it adds).
    public let coalesce: Bool

    /// Receives authenticated datagram payloads (set before `listen`).
    public func onDatagram(_ handler: @escaping @Sendable (_ peer: PeerID, _ payload: [UInt8]) -> Void) {
        let box = RPCServer.OneWayBox(handler)
        datagramHandler.withLockedValue { $0 = box }
    }

    /// Sends one message (at most ``DatagramMessages/maxMessage`` bytes) to a connected peer
    /// over UDP: unordered, unacknowledged, possibly lost. Messages sent in the same event-loop
    /// turn to the same peer share datagrams. Larger messages belong on the TCP connection.
    /// Throws `tooLarge`, or `unreachable` without a session or a known address of the peer.
    public func sendDatagram(_ payload: [UInt8], to peer: PeerID) async throws {
        guard payload.count <= DatagramMessages.maxMessage else {
            throw TransportError(.tooLarge, "datagram message of \(payload.count) bytes exceeds \(DatagramMessages.maxMessage); send it on TCP")
        }
        guard let channel = udp.withLockedValue({ $0 }) else {
            throw TransportError(.unreachable, "datagrams need a listening transport (call listen first)")
        }
        guard let state = datagramPeers.withLockedValue({ $0.byPeer[peer] }) else {
            throw TransportError(.unreachable, "no secure session with \(peer): connect first")
        }
        guard state.hasAddress else {
            throw TransportError(.unreachable, "no datagram address for \(peer) yet (it has not sent one)")
        }
        if payload.isEmpty { return sendDatagramNow([], to: peer) }
        let schedule = outgoing.withLockedValue { out -> Bool in
            out.queues[peer, default: []].append(payload)
            defer { out.scheduled = true }
            return !out.scheduled
        }
        if schedule { channel.eventLoop.execute { [self] in flushDatagrams(channel) } }
    }

    /// Seals what was queued this turn, as few datagrams per peer as fit, and writes them in one
    /// flush (one `sendmmsg` for many).
    private func flushDatagrams(_ channel: any Channel) {
        let queues = outgoing.withLockedValue { out in
            defer { out = ([:], false) }
            return out.queues
        }
        var bytes: UInt64 = 0
        for (peer, messages) in queues {
            guard let state = datagramPeers.withLockedValue({ $0.byPeer[peer] }) else { continue }
            for plaintext in DatagramMessages.pack(messages) {
                guard let (sealed, address) = try? state.seal(plaintext) else { break }
                bytes += UInt64(sealed.count)
                channel.write(AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: sealed)), promise: nil)
            }
        }
        channel.flush()
        traffic.totals.withLockedValue { $0.udpOut += bytes }
    }

    /// An empty datagram (it tells the peer where ours come from), not waiting for the write.
    func sendDatagramNow(_ payload: [UInt8], to peer: PeerID) {
        guard let channel = udp.withLockedValue({ $0 }),
              let state = datagramPeers.withLockedValue({ $0.byPeer[peer] }),
              let (bytes, address) = try? state.seal(payload) else { return }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: bytes)), promise: nil)
        traffic.totals.withLockedValue { $0.udpOut += UInt64(bytes.count) }
    }

    public init(
        settings: HandshakeSettings, group: any EventLoopGroup, logger: Logger = Logger(label: "pinmesh.transport"),
        maxPendingHandshakes: Int = 64, maxConnections: Int = 1024, maxConcurrentCallsPerPeer: Int = 256,
        maxStreamsPerPeer: Int = 256, streamWindow: Int = 512 * 1024, coalesce: Bool = true
    ) {
        precondition(streamWindow >= 2 && UInt64(streamWindow) <= RPCFrame.maxWindowIncrement, "the stream window must be 2 bytes to 1 GiB")
        self.maxStreamsPerPeer = maxStreamsPerPeer
        self.streamWindow = streamWindow
        self.coalesce = coalesce
        var settings = settings
        if settings.verified == nil { settings.verified = IdentityCache() }
        self.settings = settings
        self.maxPendingHandshakes = maxPendingHandshakes
        self.maxConnections = maxConnections
        self.maxConcurrentCallsPerPeer = maxConcurrentCallsPerPeer
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
            .childChannelOption(.recvAllocator, value: Self.receiveBuffers)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let admitted = pendingHandshakes.withLockedValue { pending in
                        guard pending < maxPendingHandshakes else { return false }
                        pending += 1
                        return true
                    }
                    guard admitted, connections.withLockedValue({ $0.count }) < maxConnections else {
                        if admitted { pendingHandshakes.withLockedValue { $0 -= 1 } }
                        logger.warning("refusing a connection: \(maxPendingHandshakes) handshakes pending or \(maxConnections) connections open")
                        throw TransportError(.unreachable, "connection limit reached")
                    }
                    let future = try self.install(on: channel, role: .responder)
                    future.whenComplete { [self] _ in pendingHandshakes.withLockedValue { $0 -= 1 } }
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        listener.withLockedValue { $0 = channel }
        let bound = channel.localAddress?.port ?? port
        // Datagrams share the TCP port number.
        let receiver = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // Room for bursts: the kernel drops what does not fit while the loop is busy.
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.socketOption(.so_sndbuf), value: 1 << 20)
            // recvmmsg: up to 32 datagrams per system call. The receive buffer is split evenly
            // among them, so it must hold 32 whole datagrams (a shorter slice truncates them).
            .channelOption(.datagramVectorReadMessageCount, value: 32)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
            .channelInitializer { [self] ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(DatagramReceiver(
                        traffic: traffic,
                        lookup: { [self] id in datagramPeers.withLockedValue { $0.byID[id] } },
                        deliver: { [self] peer, payload in datagramHandler.withLockedValue { $0 }?.call(peer, payload) },
                        logger: logger))
                }
            }
        let datagramChannel = try await receiver.bind(host: host, port: bound).get()
        udp.withLockedValue { $0 = datagramChannel }
        return bound
    }

    /// Dials a multiaddr `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<id>]`; with a `/p2p`
    /// part, the peer must prove that identity.
    public func dial(_ address: Multiaddr) async throws -> PeerConnection {
        guard let (host, port) = Self.hostAndPort(address) else {
            throw TransportError(.badAddress, "cannot dial \(address): expected /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<id>]")
        }
        if let expected = address.peerID, let existing = connection(to: expected) { return existing }
        // The first round trip (a ping) leaves in the same event-loop turn as message 3, not
        // after a hop back to this task: it is what makes sure the peer holds the session too.
        // By channel: a name with IPv4 and IPv6 addresses is tried on more than one channel.
        let futures = NIOLockedValueBox<[ObjectIdentifier: (EventLoopFuture<SecureSession>, EventLoopFuture<[UInt8]>)]>([:])
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: Self.receiveBuffers)
            .connectTimeout(.seconds(5))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let established = try self.install(on: channel, role: .initiator(expected: address.peerID))
                    let ping = established.flatMap { _ in
                        let reply = channel.eventLoop.makePromise(of: [UInt8].self)
                        channel.writeAndFlush(RPCOutbound.call(method: Self.pingMethod, payload: [], promise: reply, timeout: .seconds(10)))
                            .whenFailure { reply.fail(TransportError(.connectionClosed, "connection closed before the first round trip: \($0)")) }
                        return reply.futureResult
                    }
                    futures.withLockedValue { $0[ObjectIdentifier(channel)] = (established, ping) }
                }
            }
        // One wait for the connect, the handshake and the first round trip together: each
        // separate wait is a hop between the event loop and this task.
        let connected: EventLoopFuture<any Channel>
        // An IP address skips the resolver (a hop to a thread running getaddrinfo).
        if let ip = try? SocketAddress(ipAddress: host, port: port) {
            connected = bootstrap.connect(to: ip)
        } else {
            connected = bootstrap.connect(host: host, port: port)
        }
        let unreachable = connected.flatMapErrorThrowing { error in
            throw TransportError(.unreachable, "cannot connect to \(address): \(error)")
        }
        let trip = unreachable.flatMap { channel in
            let (established, ping) = futures.withLockedValue { $0[ObjectIdentifier(channel)]! }
            return established.and(ping).map { (channel, $0.0) }
        }
        let channel: any Channel
        let session: SecureSession
        do {
            (channel, session) = try await trip.get()
        } catch let error as TransportError where error.code == .unreachable {
            throw error
        } catch {
            // The handshake succeeded and the connection closed under the first round trip: it
            // lost a simultaneous dial, and the peer's connection to us is the one both keep.
            let channel = try? await unreachable.get()
            if let channel, let established = futures.withLockedValue({ $0[ObjectIdentifier(channel)]?.0 }),
               let won = try? await established.get() {
                if let winner = await awaitConnection(to: won.peer, timeout: settings.timeout) { return winner }
                throw TransportError(.connectionClosed, "the connection to \(won.peer) closed right after the handshake: \(error)")
            }
            throw error
        }
        // A simultaneous dial may have won: use the surviving connection.
        if let winner = connection(to: session.peer), winner.channel !== channel { return winner }
        // An empty authenticated datagram tells the peer where ours come from (not awaited).
        if let address = try? SocketAddress.makeAddressResolvingHost(host, port: port) {
            registerDatagrams(session, address: address)
            sendDatagramNow([], to: session.peer)
        }
        return PeerConnection(peer: session.peer, session: session, channel: channel)
    }

    /// Waits (bounded, re-checking on an event loop) for a live connection to `peer`.
    func awaitConnection(to peer: PeerID, timeout: Duration) async -> PeerConnection? {
        let loop = group.next()
        let promise = loop.makePromise(of: PeerConnection?.self)
        let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)
        @Sendable func check() {
            if let c = connection(to: peer) { return promise.succeed(c) }
            if NIODeadline.now() > deadline { return promise.succeed(nil) }
            loop.scheduleTask(in: .milliseconds(5)) { check() }
        }
        loop.execute { check() }
        return (try? await promise.futureResult.get()) ?? nil
    }

    /// Reads of up to 1 MiB when the peer sends that fast (NIO's default stops at 64 KiB, less
    /// than one full record): whole records are then opened where they were read.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 1 << 20)

    /// Answered by every transport; `dial` uses it to finish the first round trip.
    static let pingMethod = "pinmesh/ping"

    private func registerDatagrams(_ session: SecureSession, address: SocketAddress?) {
        let state = DatagramPeer(session: session, address: address)
        datagramPeers.withLockedValue { table in
            if let old = table.byPeer[session.peer] { table.byID[old.localID] = nil }
            table.byPeer[session.peer] = state
            table.byID[state.localID] = state
        }
    }

    /// Installs the handshake and RPC handlers; returns the future of the handshake.
    @discardableResult
    private func install(on channel: any Channel, role: HandshakeInstance.Role) throws -> EventLoopFuture<SecureSession> {
        let promise = channel.eventLoop.makePromise(of: SecureSession.self)
        let isInitiator: Bool
        if case .initiator = role { isInitiator = true } else { isInitiator = false }
        let handshake = HandshakeInstance(role: role, settings: settings, now: SecureChannelHandler.now(), ephemeral: ephemerals.take())
        // Refill after this turn: the key generation runs while the peer computes its answer.
        channel.eventLoop.execute { [ephemerals] in ephemerals.refill() }
        try channel.pipeline.syncOperations.addHandlers([
            ByteCounter(traffic),
            SecureChannelHandler(handshake: handshake, isInitiator: isInitiator, timeout: settings.timeout, established: promise, logger: logger),
            RPCHandler(
                server: server, isInitiator: isInitiator, maxConcurrent: maxConcurrentCallsPerPeer,
                streamWindow: streamWindow, maxStreams: maxStreamsPerPeer, coalesce: coalesce, logger: logger),
        ])
        promise.futureResult.whenSuccess { [self] session in
            let connection = PeerConnection(peer: session.peer, session: session, channel: channel)
            // One connection per pair: when both dialled at once, keep the one dialled by the
            // smaller peer ID; both sides close the other.
            let dialler = session.isInitiator ? localPeer : session.peer
            let keepNew = DuplicateConnectionRule.keeps(dialledBy: dialler, between: localPeer, and: session.peer)
            let loser: PeerConnection? = connections.withLockedValue { table in
                if let old = table[session.peer], old.isActive, old.channel !== channel {
                    if keepNew {
                        table[session.peer] = connection
                        return old
                    }
                    return connection
                }
                table[session.peer] = connection
                return nil
            }
            if let loser {
                logger.debug("closing a duplicate connection", metadata: ["remote": "\(session.peer)"])
                loser.channel.close(promise: nil)
                if loser.channel === channel { return }
            }
            if !isInitiator { registerDatagrams(session, address: nil) }
            if loser == nil { notify(session.peer, .connected(outbound: isInitiator)) }
            logger.debug("connected", metadata: ["remote": "\(session.peer)", "cipher": "\(session.cipher)"])
        }
        channel.closeFuture.whenComplete { [self] _ in
            let gone = connections.withLockedValue { table -> PeerConnection? in
                guard let c = table.values.first(where: { $0.channel === channel }) else { return nil }
                table[c.peer] = nil
                return c
            }
            if let gone {
                let id = gone.session.localDatagramID.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                datagramPeers.withLockedValue { table in
                    if table.byPeer[gone.peer]?.localID == id { table.byPeer[gone.peer] = nil }
                    table.byID[id] = nil
                }
                notify(gone.peer, .disconnected)
            }
        }
        return promise.futureResult
    }

    /// Closes the listener and every connection.
    public func shutdown() async {
        if let l = listener.withLockedValue({ $0 }) { try? await l.close() }
        if let u = udp.withLockedValue({ $0 }) { try? await u.close() }
        for c in connections.withLockedValue({ Array($0.values) }) { await c.close() }
        connections.withLockedValue { $0 = [:] }
    }

    public static func hostAndPort(_ address: Multiaddr) -> (String, Int)? {
        guard address.components.count >= 2, case .tcp(let port) = address.components[1] else { return nil }
        switch address.components[0] {
        case .ip4(let a): return (a.description, Int(port))
        case .ip6(let a): return (a.description, Int(port))
        case .dns(let n), .dns4(let n), .dns6(let n): return (n, Int(port))
        default: return nil
        }
    }
}

/// Fresh X25519 ephemeral keys generated ahead of the handshakes that use them, so a handshake
/// does not wait for a base-point multiplication. Each key is handed out once and never reused.
final class EphemeralKeys: Sendable {
    static let spare = 4
    private let keys = NIOLockedValueBox<[X25519.PrivateKey]>([])

    /// A key made ahead of time, or a new one when none is left.
    func take() -> X25519.PrivateKey {
        keys.withLockedValue { $0.popLast() } ?? .generate()
    }

    /// Generates keys until ``spare`` are ready.
    func refill() {
        while keys.withLockedValue({ $0.count }) < Self.spare {
            let key = X25519.PrivateKey.generate()
            keys.withLockedValue { $0.append(key) }
        }
    }
}

/// The identity bindings this transport verified, the last 4,096 (oldest forgotten first).
final class IdentityCache: VerifiedIdentities {
    static let capacity = 4096
    private let bindings = NIOLockedValueBox(RecentSet<[UInt8]>(capacity: capacity))

    func contains(_ binding: [UInt8]) -> Bool { bindings.withLockedValue { $0.contains(binding) } }

    func insert(_ binding: [UInt8]) { _ = bindings.withLockedValue { $0.insert(binding) } }
}
