public import DHT
public import Logging
public import Multiformats
import NIOConcurrencyHelpers

/// The Kademlia DHT over the libp2p host (`Specs/dht.md`): a routing table of the connected
/// peers that announce a DHT protocol in identify, iterative lookups for providers and closest
/// peers, ADD_PROVIDER announcements, and, in server mode, answers to other peers' requests.
///
/// - Protocols: kubo's LAN DHT (`/ipfs/lan/kad/1.0.0`) and WAN DHT (`/ipfs/kad/1.0.0`) share
///   one table and store here; a request to a peer uses a protocol the peer announced.
/// - Every request is one stream: the message, then (except ADD_PROVIDER) one answer, within
///   ``DHTSettings/requestTimeout``; a lookup ends within ``DHTSettings/lookupTimeout``.
/// - Inbound: at most ``DHTSettings/maxInboundStreamsPerPeer`` streams a peer, requests over
///   4 MiB or malformed reset the stream, an idle stream closes after 60 s.
public final class DHTService: Sendable {
    struct State {
        var table: DHTRoutingTable
        var store: DHTProviderStore
        var inbound: [PeerID: Int] = [:]
        var tasks: [Task<Void, Never>] = []
        var requests = 0
        var failures = 0
    }

    public let host: Libp2pHost
    public let settings: DHTSettings
    let logger: Logger
    let hasLocally: @Sendable ([UInt8]) -> Bool
    let selfAddresses: @Sendable () -> [Multiaddr]
    let state: NIOLockedValueBox<State>
    let started = ContinuousClock.now

    /// - Parameters:
    ///   - hasLocally: whether this node holds the block of a multihash (answered as a provider).
    ///   - selfAddresses: the addresses to announce in provider records (without /p2p/).
    public init(
        host: Libp2pHost, settings: DHTSettings = DHTSettings(), logger: Logger,
        selfAddresses: @escaping @Sendable () -> [Multiaddr], hasLocally: @escaping @Sendable ([UInt8]) -> Bool
    ) {
        self.host = host
        self.settings = settings
        self.logger = logger
        self.hasLocally = hasLocally
        self.selfAddresses = selfAddresses
        state = NIOLockedValueBox(State(table: DHTRoutingTable(local: host.peerID, bucketSize: settings.k), store: DHTProviderStore()))
        if settings.mode != .client {
            for p in settings.servedProtocols { host.setStreamHandler(p) { [weak self] s in await self?.serve(s) } }
        }
    }

    var now: Duration { ContinuousClock.now - started }

    /// Starts following connections: identified peers that speak a DHT protocol join the table.
    public func start() {
        let events = host.peerEvents()
        let task = Task { [weak self] in
            for await event in events {
                guard let self else { return }
                switch event {
                case .connected(let peer):
                    Task { await self.consider(peer) }
                case .disconnected:
                    continue
                }
            }
        }
        // Expired provider records go every 10 minutes.
        let expiry = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(600))
                guard let self else { return }
                let now = self.now
                self.state.withLockedValue { $0.store.expire(now: now) }
            }
        }
        state.withLockedValue { $0.tasks += [task, expiry] }
        for p in host.connectedPeers().map(\.peer) { Task { await consider(p) } }
    }

    public func stop() {
        let tasks = state.withLockedValue { s in
            defer { s.tasks = [] }
            return s.tasks
        }
        for t in tasks { t.cancel() }
    }

    /// Adds `peer` to the table once identify says it speaks a DHT protocol.
    func consider(_ peer: PeerID) async {
        guard await host.waitForIdentify(peer, timeout: .seconds(15)) else { return }
        let speaks = !Set(host.protocols(of: peer)).isDisjoint(with: settings.protocols)
        guard speaks else { return }
        let addresses = host.knownAddresses(of: peer)
        let added = state.withLockedValue { $0.table.add(peer, addresses: addresses, now: now) }
        if added { logger.debug("dht peer added", metadata: ["peer": "\(peer)"]) }
    }

    public var routingTableSize: Int { state.withLockedValue { $0.table.count } }
    public var providerKeys: Int { state.withLockedValue { $0.store.keyCount } }

    /// The providers this node stores for `cid` (records other peers sent it).
    public func storedProviders(of cid: CID) -> [PeerID] {
        state.withLockedValue { $0.store.providers(of: cid.multihash.bytes, now: now).map(\.peer) }
    }

    // MARK: client

    /// Finds peers that provide `cid` (GET_PROVIDERS lookup), at most `enough`; each with its
    /// addresses, which the host learns so bitswap can dial them.
    public func findProviders(_ cid: CID, enough: Int = 20) async -> [DHTMessage.Peer] {
        let key = cid.multihash.bytes
        // Records other peers gave this node first (kubo's GetProviders does the same), then
        // the lookup for the rest.
        var found = state.withLockedValue { $0.store.providers(of: key, now: now) }.map { DHTMessage.Peer(id: $0.peer, addresses: $0.addresses) }
        if found.count < enough {
            let lookup = await run(DHTMessage(type: .getProviders, key: key), goal: .providers(enough: enough - found.count))
            for p in lookup.providers where !found.contains(where: { $0.id == p.id }) { found.append(p) }
            logger.debug("dht providers lookup", metadata: ["cid": "\(cid)", "queries": "\(lookup.queriesSent)"])
        }
        found = found.filter { $0.id != host.peerID }
        for p in found { host.learn(p.addresses, for: p.id) }
        logger.debug("dht providers", metadata: ["cid": "\(cid)", "found": "\(found.count)"])
        return found
    }

    /// The peers closest to `key` that answered a FIND_NODE lookup, closest first.
    public func closestPeers(_ key: [UInt8]) async -> [(PeerID, [Multiaddr])] {
        await run(DHTMessage(type: .findNode, key: key), goal: .closestPeers).closestAnswered()
    }

    /// Announces this node as a provider of `cid` to the peers closest to it (kubo's
    /// `Provide`); returns how many took the record.
    @discardableResult
    public func provide(_ cid: CID) async -> Int {
        let key = cid.multihash.bytes
        let own = selfAddresses()
        guard !own.isEmpty else { return 0 }
        var targets = await closestPeers(key).map(\.0)
        if targets.isEmpty {
            targets = state.withLockedValue { $0.table.closest(to: DHTKey(hashing: key), count: settings.k).map(\.peer) }
        }
        let message = DHTMessage(type: .addProvider, key: key, providerPeers: [DHTMessage.Peer(id: host.peerID, addresses: own)])
        let sent = await withTaskGroup(of: Bool.self) { g in
            for p in targets { g.addTask { (try? await self.request(message, to: p, answered: false)) != nil } }
            var n = 0
            for await ok in g where ok { n += 1 }
            return n
        }
        logger.debug("dht provide", metadata: ["cid": "\(cid)", "peers": "\(sent)"])
        return sent
    }

    /// Drives one lookup to its end (or ``DHTSettings/lookupTimeout``).
    func run(_ message: DHTMessage, goal: DHTLookup.Goal) async -> DHTLookup {
        let target = DHTKey(hashing: message.key)
        let seeds = state.withLockedValue { $0.table.closest(to: target, count: settings.k).map { ($0.peer, $0.addresses) } }
        var lookup = DHTLookup(target: target, goal: goal, local: host.peerID, seeds: seeds, alpha: settings.alpha, k: settings.k)
        let deadline = ContinuousClock.now + settings.lookupTimeout
        await withTaskGroup(of: (PeerID, DHTMessage?).self) { g in
            func launch() {
                for p in lookup.nextQueries() {
                    host.learn(lookup.addresses(of: p), for: p)
                    g.addTask { (p, try? await self.request(message, to: p, answered: true)) }
                }
            }
            launch()
            while let (peer, reply) = await g.next() {
                if let reply {
                    lookup.onResponse(from: peer, closer: reply.closerPeers, providers: reply.providerPeers)
                } else {
                    lookup.onFailure(peer)
                }
                if lookup.isFinished || ContinuousClock.now >= deadline || Task.isCancelled {
                    g.cancelAll()
                    break
                }
                launch()
            }
        }
        return lookup
    }

    struct Timeout: Error {}

    /// Sends `message` to `peer` on a new stream and, when `answered`, reads one reply. Throws
    /// on a failure or after ``DHTSettings/requestTimeout``; a peer that fails leaves the table.
    func request(_ message: DHTMessage, to peer: PeerID, answered: Bool) async throws -> DHTMessage? {
        state.withLockedValue { $0.requests += 1 }
        do {
            let reply = try await withThrowingTaskGroup(of: DHTMessage?.self) { g in
                g.addTask { try await self.exchange(message, with: peer, answered: answered) }
                g.addTask {
                    try await Task.sleep(for: self.settings.requestTimeout)
                    throw Timeout()
                }
                defer { g.cancelAll() }
                return try await g.next()!
            }
            return reply
        } catch {
            // A request cut short because its lookup ended says nothing about the peer.
            if !(error is CancellationError) && !Task.isCancelled {
                state.withLockedValue { s in
                    s.failures += 1
                    s.table.remove(peer)
                }
            }
            throw error
        }
    }

    private func exchange(_ message: DHTMessage, with peer: PeerID, answered: Bool) async throws -> DHTMessage? {
        // Our order of preference (LAN first: kubo's LAN DHT is the one that admits private
        // addresses, and a record given to its WAN DHT is not found through the LAN one).
        let announced = Set(host.protocols(of: peer))
        let usable = settings.protocols.filter { announced.contains($0) }
        let stream = try await host.newStream(to: peer, protocols: usable.isEmpty ? settings.protocols : usable)
        return try await withTaskCancellationHandler {
            try await stream.writeMessage(message.encoded())
            guard answered else {
                await stream.closeWrite()
                return message
            }
            guard let bytes = try await stream.readMessage(maxLength: DHTMessage.maxBytes) else {
                throw Libp2pError(.streamClosed, "\(peer) closed the DHT stream without an answer")
            }
            await stream.closeWrite()
            let reply = try DHTMessage(decoding: bytes)
            // The peer answered: it is alive and speaks the protocol.
            let addresses = host.knownAddresses(of: peer)
            _ = state.withLockedValue { $0.table.add(peer, addresses: addresses, now: now) }
            return reply
        } onCancel: {
            Task { await stream.reset() }
        }
    }

    // MARK: server

    func serve(_ stream: Libp2pStream) async {
        let peer = stream.remotePeer
        let admitted = state.withLockedValue { s -> Bool in
            guard s.inbound[peer, default: 0] < settings.maxInboundStreamsPerPeer else { return false }
            s.inbound[peer, default: 0] += 1
            return true
        }
        guard admitted else {
            logger.debug("too many dht streams from one peer: stream reset", metadata: ["remote": "\(peer)"])
            await stream.reset()
            return
        }
        defer {
            state.withLockedValue { s in
                let left = (s.inbound[peer] ?? 1) - 1
                s.inbound[peer] = left > 0 ? left : nil
            }
        }
        let selfPeer = DHTMessage.Peer(id: host.peerID, addresses: selfAddresses())
        while true {
            let bytes: [UInt8]?
            do {
                bytes = try await withThrowingTaskGroup(of: [UInt8]?.self) { g in
                    g.addTask { try await stream.readMessage(maxLength: DHTMessage.maxBytes) }
                    g.addTask {
                        try await Task.sleep(for: .seconds(60))
                        throw Timeout()
                    }
                    defer { g.cancelAll() }
                    return try await g.next()!
                }
            } catch {
                await stream.reset()
                return
            }
            guard let bytes else {
                await stream.closeWrite()
                return
            }
            let request: DHTMessage
            do {
                request = try DHTMessage(decoding: bytes)
            } catch {
                logger.info("malformed dht message: stream reset", metadata: ["remote": "\(peer)", "error": "\(error)"])
                await stream.reset()
                return
            }
            let reply = state.withLockedValue { s -> DHTMessage? in
                var context = DHTServer.Context(table: s.table, store: s.store, now: now, selfPeer: selfPeer)
                let r = DHTServer.respond(to: request, from: peer, context: &context, hasLocally: hasLocally)
                s.store = context.store
                return r
            }
            if request.type == .addProvider {
                host.learn(request.providerPeers.filter { $0.id == peer }.flatMap(\.addresses), for: peer)
                continue
            }
            guard let reply else {
                await stream.reset()
                return
            }
            do {
                try await stream.writeMessage(reply.encoded())
            } catch {
                return
            }
        }
    }
}

/// The DHT's settings (kubo's `Routing` section, `Specs/dht.md`).
public struct DHTSettings: Sendable {
    public enum Mode: String, Sendable {
        /// Queries only; no protocol announced (kubo's `dhtclient`).
        case client
        /// Answers on the LAN protocol, queries on both (kubo's `auto` on a LAN; the default).
        case lanServer
        /// Answers on both protocols (kubo's `dhtserver`).
        case server
    }

    public static let wanProtocol = "/ipfs/kad/1.0.0"
    public static let lanProtocol = "/ipfs/lan/kad/1.0.0"

    public var mode: Mode = .lanServer
    /// The protocols requests may use, in order of preference.
    public var protocols: [String] = [DHTSettings.lanProtocol, DHTSettings.wanProtocol]
    public var requestTimeout: Duration = .seconds(10)
    public var lookupTimeout: Duration = .seconds(30)
    public var alpha = 3
    public var k = 20
    public var maxInboundStreamsPerPeer = 8

    public init() {}

    public var servedProtocols: [String] {
        switch mode {
        case .client: []
        case .lanServer: [DHTSettings.lanProtocol]
        case .server: [DHTSettings.lanProtocol, DHTSettings.wanProtocol]
        }
    }
}
