import ClusterModel
public import Foundation
public import Logging
public import Multiformats
public import SecureChannel
import Sodium

/// Keeps a node connected: joins through bootstrap addresses, learns the other peers from
/// those it reaches (peer exchange), redials lost peers with backoff and jitter, reaps dead
/// connections with keepalives, and remembers addresses in a persisted `Peerstore`.
public actor ConnectionManager {
    public struct Settings: Sendable {
        /// Every connection is pinged this often...
        public var keepaliveInterval: Duration = .seconds(5)
        /// ...and closed when a ping goes unanswered this long.
        public var keepaliveTimeout: Duration = .seconds(5)
        /// Redial delays (full jitter).
        public var backoff = Backoff()
        /// No more peers than this are dialled from peer exchange.
        public var maxPeers = 256
        /// Where the peerstore is kept; nil keeps it in memory only.
        public var peerstorePath: URL?

        public init() {}
    }

    /// Answers this node's listen addresses.
    public static let idMethod = "pinmesh/id"
    /// Answers the connected peers and their listen addresses.
    public static let peersMethod = "pinmesh/peers"

    private let transport: SecureTransport
    private let settings: Settings
    private let logger: Logger
    private var listenAddresses: [Multiaddr] = []
    public private(set) var peerstore: Peerstore
    private var attempts: [PeerID: Int] = [:]
    /// One pending redial per peer.
    private var redials: [PeerID: Task<Void, Never>] = [:]
    private var tasks: [Task<Void, Never>] = []
    private var stopped = false
    private var rng = SplitMix64(seed: SodiumRandom.bytes(8).reduce(0) { $0 << 8 | UInt64($1) })
    /// Connections closed because a keepalive went unanswered.
    public private(set) var keepaliveFailures = 0

    /// - Throws: `TransportError(.malformed)` when the peerstore file exists but cannot be read.
    public init(transport: SecureTransport, settings: Settings = Settings(), logger: Logger = Logger(label: "pinmesh.connections")) throws(TransportError) {
        self.transport = transport
        self.settings = settings
        var logger = logger
        logger[metadataKey: "peer"] = "\(transport.localPeer)"
        self.logger = logger
        peerstore = try settings.peerstorePath.map { url throws(TransportError) in try Peerstore.load(from: url) } ?? Peerstore()
    }

    /// Starts answering identity and peer-exchange calls, watching connections, and the keepalives.
    /// `listenAddresses` are what other peers are told to dial (without `/p2p`).
    public func start(listenAddresses: [Multiaddr]) {
        self.listenAddresses = listenAddresses
        let me = transport.localPeer
        let own = listenAddresses.map { "\($0)/p2p/\(me)" }
        transport.server.register(Self.idMethod) { _, _ in try JSONEncoder().encode(own).bytes }
        transport.server.register(Self.peersMethod) { [weak self] _, _ in
            guard let self else { return [] }
            return try JSONEncoder().encode(await self.exchangeList()).bytes
        }
        transport.onConnectionChange { [weak self] peer, event in
            Task { await self?.connectionChanged(peer, event) }
        }
        let interval = settings.keepaliveInterval
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.keepalive()
            }
        })
    }

    public func stop() {
        stopped = true
        for t in tasks { t.cancel() }
        tasks = []
        for (_, t) in redials { t.cancel() }
        redials = [:]
        save()
    }

    /// Dials every address (failures are logged); each peer reached then shares the peers it knows.
    /// Returns how many bootstrap addresses were reached.
    @discardableResult
    public func bootstrap(_ addresses: [Multiaddr]) async -> Int {
        var reached = 0
        for address in addresses {
            do {
                let connection = try await transport.dial(address)
                reached += 1
                // An address that answered is one to redial, even if the connection drops
                // before the peer's own addresses arrive through the exchange.
                let full = address.peerID != nil ? address : try? Multiaddr("\(address)/p2p/\(connection.peer)")
                if let full { peerstore.add(connection.peer, addresses: [full]) }
            } catch {
                logger.warning("bootstrap address unreachable", metadata: ["address": "\(address)", "error": "\(error)"])
            }
        }
        if reached == 0, !addresses.isEmpty {
            logger.error("no bootstrap address answered: check the addresses and that those peers run with the same cluster secret")
        }
        return reached
    }

    // MARK: events

    private func connectionChanged(_ peer: PeerID, _ event: ConnectionEvent) async {
        guard !stopped else { return }
        switch event {
        case .connected:
            attempts[peer] = nil
            await exchange(with: peer)
        case .disconnected:
            scheduleRedial(peer)
        }
    }

    /// Learns `peer`'s listen addresses and the peers it knows, and dials the new ones.
    private func exchange(with peer: PeerID) async {
        guard let connection = transport.connection(to: peer) else { return }
        let decoder = JSONDecoder()
        if let raw = try? await connection.call(Self.idMethod, [], timeout: settings.keepaliveTimeout),
            let texts = try? decoder.decode([String].self, from: Data(raw))
        {
            peerstore.add(peer, addresses: texts.prefix(Peerstore.maxAddressesPerPeer).compactMap { try? Multiaddr($0) })
        }
        guard let raw = try? await connection.call(Self.peersMethod, [], timeout: settings.keepaliveTimeout),
            let list = try? decoder.decode([[String]].self, from: Data(raw))
        else { return }
        for addresses in list.prefix(settings.maxPeers) {
            let parsed = addresses.prefix(Peerstore.maxAddressesPerPeer).compactMap { try? Multiaddr($0) }
            guard let other = parsed.first?.peerID, other != transport.localPeer else { continue }
            peerstore.add(other, addresses: parsed, seen: Date(timeIntervalSince1970: 0))
            if transport.connection(to: other) == nil, transport.connectedPeers.count < settings.maxPeers {
                await dial(other)
            }
        }
        save()
    }

    /// For each connected peer, the listen addresses it told us (peers we know no address of are left out).
    private func exchangeList() -> [[String]] {
        transport.connectedPeers.compactMap { peer in
            let addresses = peerstore.addresses(of: peer).map { "\($0)" }
            return addresses.isEmpty ? nil : addresses
        }
    }

    /// Dials `peer` at its known addresses (e.g. a peer suggested by pubsub's peer exchange);
    /// true when connected, false when no address is known or none answered.
    @discardableResult
    public func connect(to peer: PeerID) async -> Bool {
        if transport.connection(to: peer) != nil { return true }
        guard transport.connectedPeers.count < settings.maxPeers else { return false }
        await dial(peer)
        return transport.connection(to: peer) != nil
    }

    /// Forgets `peer`: its addresses, any pending redial, and its connection (closed). A peer
    /// that is alive and knows this one's address may dial back.
    public func forget(_ peer: PeerID) async {
        peerstore.forget(peer)
        redials.removeValue(forKey: peer)?.cancel()
        attempts[peer] = nil
        save()
        await transport.connection(to: peer)?.close()
    }

    private func dial(_ peer: PeerID) async {
        for address in peerstore.addresses(of: peer) {
            if (try? await transport.dial(address)) != nil { return }
        }
    }

    private func scheduleRedial(_ peer: PeerID) {
        guard !stopped, !peerstore.addresses(of: peer).isEmpty, redials[peer] == nil else { return }
        let attempt = attempts[peer, default: 0]
        attempts[peer] = attempt + 1
        let delay = settings.backoff.delay(attempt: attempt, using: &rng)
        logger.debug("redialing", metadata: ["remote": "\(peer)", "attempt": "\(attempt)", "delay": "\(delay)"])
        redials[peer] = Task { [weak self] in
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await self?.redial(peer)
        }
    }

    private func redial(_ peer: PeerID) async {
        redials[peer] = nil
        guard !stopped, transport.connection(to: peer) == nil else { return }
        await dial(peer)
        if transport.connection(to: peer) == nil { scheduleRedial(peer) }
    }

    private func keepalive() async {
        let timeout = settings.keepaliveTimeout
        for peer in transport.connectedPeers {
            guard let connection = transport.connection(to: peer) else { continue }
            do { _ = try await connection.call(SecureTransport.pingMethod, [], timeout: timeout) } catch let error as TransportError where error.code == .timeout {
                keepaliveFailures += 1
                logger.warning("closing a connection whose keepalive went unanswered", metadata: ["remote": "\(peer)"])
                await connection.close()
            } catch {
                continue
            }
        }
    }

    private func save() {
        guard let url = settings.peerstorePath else { return }
        do { try peerstore.save(to: url) } catch { logger.error("\(error)") }
    }
}

extension Data {
    fileprivate var bytes: [UInt8] { [UInt8](self) }
}
