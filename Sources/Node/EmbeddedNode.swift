import Bitswap
import ClusterModel
import DHT
public import EmbeddedIPFS
public import Libp2p
public import Logging
public import Multiformats
public import NIOCore
import NIOConcurrencyHelpers

/// The embedded IPFS node on the IPFS network: its repository, a libp2p host on
/// `Addresses.Swarm`, and bitswap serving the repository's blocks and fetching missing ones
/// (`Specs/libp2p.md`, `Specs/bitswap.md`).
///
/// - Start: bitswap's protocols, the listeners, then a dial of every `Bootstrap` address and
///   the `Peering.Peers` loop: each peering peer is dialled when not connected, with a backoff
///   from 1 s doubling to 60 s after failures (reset by a success).
/// - Blocks stored in the repository are offered to peers that want them; when any peer
///   connects, pins waiting for blocks ask again (it may have them).
/// - Connection manager (`Swarm.ConnMgr`): every ``trimInterval``, above `HighWater`
///   connections the oldest past `GracePeriod` are closed down to `LowWater`, never a
///   peering peer.
/// - As ``IPFSSwarm`` it is what the RPC API's `swarm/*` and `id` show.
public final class EmbeddedNode: IPFSSwarm {
    public let repo: IPFSRepo
    public let host: Libp2pHost
    public let bitswap: BitswapService
    /// The DHT, unless `Routing.Type` is `none`.
    public let dht: DHTService?
    public let plan: RepoConfig.SwarmPlan
    public let routing: RepoConfig.RoutingPlan
    /// What pins use to obtain missing blocks: bitswap, and the DHT's providers when no
    /// connected peer has the block (``ProviderSearchingFetcher``).
    public let fetcher: any BlockFetcher
    /// Roots to announce on the DHT, one lookup at a time.
    private let provideQueue: (stream: AsyncStream<CID>, continuation: AsyncStream<CID>.Continuation)
    private let logger: Logger
    private let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
    /// When each connected peer connected (for the connection manager's grace period).
    private let connectedAt = NIOLockedValueBox<[PeerID: ContinuousClock.Instant]>([:])
    /// How often the connection manager looks at the connection count.
    public let trimInterval: Duration
    /// More providers for the gateway's Routing V1 answers (``setExtraProviders(_:)``).
    private let extraProviders = NIOLockedValueBox<(@Sendable (CID) async -> [RoutingProvider])?>(nil)
    /// The Routing V1 client over `Routing.DelegatedRouters`, nil when none is configured.
    public let delegated: DelegatedRoutingClient?

    public static var agentVersionString: String { "pinmesh/\(PinMeshVersion.string)" }

    /// - Parameter listen: replaces `Addresses.Swarm` (tests: `/ip4/127.0.0.1/tcp/0`).
    public init(repo: IPFSRepo, group: any EventLoopGroup, listen: [Multiaddr]? = nil, trimInterval: Duration = .seconds(10), logger: Logger) throws {
        self.trimInterval = trimInterval
        let plan = try repo.config.swarmPlan()
        self.plan = plan
        self.repo = repo
        self.logger = logger
        var settings = Libp2pSettings(listen: listen ?? plan.listen, agentVersion: Self.agentVersionString)
        settings.announce = plan.announce
        host = Libp2pHost(identity: try repo.config.identityKey(), settings: settings, group: group, logger: logger)
        bitswap = try BitswapService(host: host, logger: logger) { cid in repo.localBlock(cid) }
        routing = try repo.config.routingPlan()
        let delegated = routing.delegatedRouters.isEmpty ? nil : DelegatedRoutingClient(routers: routing.delegatedRouters, logger: logger)
        self.delegated = delegated
        if !routing.ignoredRouters.isEmpty {
            logger.notice("Routing.DelegatedRouters: 'auto' needs kubo's AutoConf, which the embedded node does not have; list router URLs instead")
        }
        if routing.mode == .none {
            dht = nil
            let (bitswap, host) = (self.bitswap, self.host)
            fetcher = delegated.map { ProviderSearchingFetcher(bitswap: bitswap, host: host, dht: nil, delegated: $0, logger: logger) } ?? bitswap
        } else {
            var d = DHTSettings()
            switch routing.mode {
            case .client: d.mode = .client
            case .server: d.mode = .server
            case .lanServer, .none: d.mode = .lanServer
            }
            let host = self.host
            let dht = DHTService(
                host: host, settings: d, logger: logger,
                selfAddresses: { [plan] in plan.announce.isEmpty ? host.listenAddresses.flatMap(EmbeddedNode.expand) : plan.announce },
                hasLocally: { mh in (try? Multihash(bytes: mh)).map { repo.blocks.has(.v1(codec: .raw, $0)) } ?? false })
            self.dht = dht
            fetcher = ProviderSearchingFetcher(bitswap: bitswap, host: host, dht: dht, delegated: delegated, logger: logger)
        }
        provideQueue = AsyncStream<CID>.makeStream(bufferingPolicy: .bufferingNewest(100_000))
    }

    /// Sets the extra provider source of the gateway's Routing V1 answers (a cluster peer's
    /// allocations); it must answer within the lookup's time (it is cancelled after it).
    public func setExtraProviders(_ source: (@Sendable (CID) async -> [RoutingProvider])?) {
        extraProviders.withLockedValue { $0 = source }
    }

    func extraProviderSource() -> (@Sendable (CID) async -> [RoutingProvider])? { extraProviders.withLockedValue { $0 } }

    public func start() async throws {
        await bitswap.start()
        try await host.start()
        let (bitswap, repo, host, logger) = (self.bitswap, self.repo, self.host, self.logger)
        repo.onBlockStored { cid in Task { await bitswap.blockStored(cid) } }
        let events = host.peerEvents()
        var started: [Task<Void, Never>] = []
        let connectedAt = self.connectedAt
        started.append(Task {
            for await event in events {
                switch event {
                case .connected(let peer):
                    connectedAt.withLockedValue { $0[peer] = .now }
                    repo.retryFetches()
                case .disconnected(let peer):
                    _ = connectedAt.withLockedValue { $0.removeValue(forKey: peer) }
                }
            }
        })
        let (plan, interval) = (self.plan, trimInterval)
        started.append(Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                for peer in Self.toTrim(host.connectedPeers().map(\.peer), connectedAt: connectedAt.withLockedValue { $0 }, plan: plan, now: .now) {
                    logger.debug("connection manager closes a connection", metadata: ["peer": "\(peer)"])
                    await host.disconnect(peer)
                }
            }
        })
        for address in plan.bootstrap {
            started.append(Task {
                do { try await host.connect(address) } catch { logger.notice("bootstrap peer did not answer", metadata: ["address": "\(address)", "error": "\(error)"]) }
            })
        }
        for p in plan.peering { started.append(Task { await Self.keepConnected(p.peer, p.addresses, host: host, logger: logger) }) }
        if let dht {
            dht.start()
            let queue = provideQueue
            repo.onPinned { roots in for r in roots { queue.continuation.yield(r) } }
            // Roots no DHT peer took (none known yet) wait and go again every 5 s once the
            // table has a peer (at most 10,000 waiting; the reprovider covers the rest).
            let waiting = NIOLockedValueBox<[CID]>([])
            started.append(Task {
                for await root in queue.stream {
                    let peers = await dht.provide(root)
                    logger.debug("announced on the dht", metadata: ["cid": "\(root)", "peers": "\(peers)"])
                    if peers == 0 { waiting.withLockedValue { if $0.count < 10_000 { $0.append(root) } } }
                }
            })
            started.append(Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    guard dht.routingTableSize > 0 else { continue }
                    let again = waiting.withLockedValue { w in
                        defer { w = [] }
                        return w
                    }
                    for r in again { queue.continuation.yield(r) }
                }
            })
            if let interval = routing.reprovideInterval {
                started.append(Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: interval)
                        var roots: [CID] = []
                        try? repo.pins.forEach(.recursive) { roots.append($0.cid) }
                        for r in roots { queue.continuation.yield(r) }
                    }
                })
            }
        }
        tasks.withLockedValue { $0 += started }
    }

    public func stop() async {
        let running = tasks.withLockedValue { t in
            defer { t = [] }
            return t
        }
        for t in running { t.cancel() }
        provideQueue.continuation.finish()
        dht?.stop()
        await bitswap.stop()
        await host.shutdown()
    }

    /// kubo's connection manager: above `HighWater` connections, the oldest past their
    /// `GracePeriod` are closed until `LowWater` remain; peering peers are never closed.
    public static func toTrim(
        _ peers: [PeerID], connectedAt: [PeerID: ContinuousClock.Instant], plan: RepoConfig.SwarmPlan, now: ContinuousClock.Instant
    ) -> [PeerID] {
        guard peers.count > plan.highWater else { return [] }
        let protected = Set(plan.peering.map(\.peer))
        let candidates = peers.filter { p in
            !protected.contains(p) && connectedAt[p].map { now - $0 >= plan.gracePeriod } ?? true
        }.sorted { (connectedAt[$0] ?? now, $0) < (connectedAt[$1] ?? now, $1) }
        return Array(candidates.prefix(max(0, peers.count - plan.lowWater)))
    }

    /// A peering peer: dialled whenever it is not connected, with backoff after failures.
    static func keepConnected(_ peer: PeerID, _ addresses: [Multiaddr], host: Libp2pHost, logger: Logger) async {
        var backoff = Duration.seconds(1)
        while !Task.isCancelled {
            if !host.connectedPeers().contains(where: { $0.peer == peer }) {
                var connected = false
                for a in addresses where !connected {
                    let target = a.peerID == nil ? (try? Multiaddr(components: a.components + [.p2p(peer)])) ?? a : a
                    do {
                        try await host.connect(target)
                        connected = true
                    } catch {
                        logger.debug("peering peer did not answer", metadata: ["peer": "\(peer)", "address": "\(a)", "error": "\(error)"])
                    }
                }
                backoff = connected ? .seconds(1) : min(backoff * 2, .seconds(60))
            }
            try? await Task.sleep(for: backoff)
        }
    }

    // MARK: IPFSSwarm

    public var addresses: [Multiaddr] {
        let own = plan.announce.isEmpty ? host.listenAddresses.flatMap(Self.expand) : plan.announce
        return own.compactMap { try? Multiaddr(components: $0.components + [.p2p(host.peerID)]) }
    }

    public var protocols: [String] {
        ["/ipfs/id/1.0.0", "/ipfs/id/push/1.0.0", "/ipfs/ping/1.0.0"] + BitswapProtocolVersion.protocolIDs + (dht?.settings.servedProtocols ?? [])
    }

    public var agentVersion: String { Self.agentVersionString }

    public func connect(_ address: Multiaddr) async throws -> PeerID { try await host.connect(address) }

    public func disconnect(_ peer: PeerID) async throws { await host.disconnect(peer) }

    public func peers() -> [IPFSSwarmPeer] {
        host.connectedPeers().map { IPFSSwarmPeer(peer: $0.peer, address: $0.address, inbound: $0.direction == .inbound) }
    }

    public func findProviders(_ cid: CID, count: Int) async throws -> [(peer: PeerID, addresses: [Multiaddr])] {
        guard let dht else { throw RoutingOff() }
        return await dht.findProviders(cid, enough: count).map { ($0.id, $0.addresses) }
    }

    public func provide(_ cid: CID) async throws -> Int {
        guard let dht else { throw RoutingOff() }
        return await dht.provide(cid)
    }

    /// A wildcard listen address as the addresses it is reachable at (each interface's IPv4 or
    /// IPv6 address, loopback first), as kubo's `id` lists them.
    static func expand(_ a: Multiaddr) -> [Multiaddr] {
        guard let first = a.components.first else { return [a] }
        let v4: Bool
        switch first {
        case .ip4(let ip) where ip.description == "0.0.0.0": v4 = true
        case .ip6(let ip) where ip.description == "::": v4 = false
        default: return [a]
        }
        let rest = Array(a.components.dropFirst())
        var hosts: [String] = []
        for device in (try? System.enumerateDevices()) ?? [] {
            guard let ip = device.address?.ipAddress else { continue }
            switch device.address {
            case .v4? where v4: hosts.append(ip)
            case .v6? where !v4 && !ip.hasPrefix("fe80"): hosts.append(ip)
            default: continue
            }
        }
        let loopback = v4 ? "127.0.0.1" : "::1"
        let ordered = [loopback] + Set(hosts).subtracting([loopback]).sorted()
        let tail = (try? Multiaddr(components: rest))?.description ?? ""
        return ordered.compactMap { h in try? Multiaddr("/\(v4 ? "ip4" : "ip6")/\(h)\(tail)") }
    }
}

/// Asks several fetchers at once for a block and takes the first answer (the IPFS network over
/// bitswap, and the cluster's own peers); nil when none has it.
public struct RacingFetcher: BlockFetcher {
    let fetchers: [any BlockFetcher]
    public init(_ fetchers: [any BlockFetcher]) { self.fetchers = fetchers }

    public func fetch(_ cid: CID) async throws -> [UInt8]? {
        try await withThrowingTaskGroup(of: [UInt8]?.self) { g in
            for f in fetchers { g.addTask { try? await f.fetch(cid) } }
            defer { g.cancelAll() }
            while let result = try await g.next() {
                if let bytes = result { return bytes }
            }
            return nil
        }
    }
}

extension BitswapService: BlockFetcher {}

/// Bitswap, helped by content routing: when a block has not arrived ``searchDelay`` after it
/// was wanted (no connected peer had it), the DHT and the delegated routers
/// (`Routing.DelegatedRouters`) are asked at once for providers of it, and up to three that
/// are not connected and may speak bitswap are dialled; bitswap then asks them as it asks
/// every new peer. The search is repeated, the wait doubling up to ``maxSearchInterval``,
/// until bitswap has the block or gives up. At most ``maxSearches`` searches run at once, one
/// per CID; at most ``maxCandidates`` providers are looked at per search.
public final class ProviderSearchingFetcher: BlockFetcher {
    let bitswap: BitswapService
    let host: Libp2pHost
    let dht: DHTService?
    let delegated: DelegatedRoutingClient?
    let logger: Logger
    let searching = NIOLockedValueBox<Set<CID>>([])
    public static let searchDelay = Duration.milliseconds(500)
    public static let maxSearchInterval = Duration.seconds(8)
    public static let maxSearches = 4
    public static let maxDials = 3
    public static let maxCandidates = 20

    public init(bitswap: BitswapService, host: Libp2pHost, dht: DHTService?, delegated: DelegatedRoutingClient?, logger: Logger) {
        self.bitswap = bitswap
        self.host = host
        self.dht = dht
        self.delegated = delegated
        self.logger = logger
    }

    public func fetch(_ cid: CID) async throws -> [UInt8]? {
        // The search runs beside bitswap, unstructured, so the block is returned the moment it
        // comes (a search in the middle of a dial does not hold it back).
        let search = Task {
            // Again while the block has not come (a provider may announce it later), the
            // wait doubling from searchDelay to maxSearchInterval.
            var wait = Self.searchDelay
            while !Task.isCancelled {
                try await Task.sleep(for: wait)
                await self.connectToProviders(of: cid)
                wait = min(wait * 2, Self.maxSearchInterval)
            }
        }
        defer { search.cancel() }
        return try await bitswap.fetch(cid)
    }

    /// Finds providers of `cid` (DHT and delegated routers in parallel) and dials those not
    /// connected (up to ``maxDials``).
    public func connectToProviders(of cid: CID) async {
        let start = searching.withLockedValue { s -> Bool in
            guard s.count < Self.maxSearches, !s.contains(cid) else { return false }
            s.insert(cid)
            return true
        }
        guard start else { return }
        defer { _ = searching.withLockedValue { $0.remove(cid) } }
        let (dht, delegated) = (self.dht, self.delegated)
        async let fromDHT = dht?.findProviders(cid, enough: Self.maxDials).map { (id: $0.id, addresses: $0.addresses, source: "dht") } ?? []
        async let fromRouters = delegated?.findProviders(cid).filter(\.mayServeBitswap).map { (id: $0.id, addresses: $0.multiaddrs, source: "delegated router") } ?? []
        let (a, b) = await (fromDHT, fromRouters)
        let connected = Set(host.connectedPeers().map(\.peer))
        var seen = Set<PeerID>()
        let candidates = (a + b).filter { $0.id != host.peerID && !connected.contains($0.id) && seen.insert($0.id).inserted }.prefix(Self.maxCandidates)
        var dialled = 0
        for p in candidates where dialled < Self.maxDials && !Task.isCancelled {
            if p.source != "dht" { host.learn(p.addresses, for: p.id) }
            for a in p.addresses.prefix(8) where !Task.isCancelled {
                guard (try? await host.connect((a.withoutPeerID ?? a).appending(.p2p(p.id)))) != nil else { continue }
                dialled += 1
                logger.debug("dialled a provider", metadata: ["cid": "\(cid)", "peer": "\(p.id)", "found by": "\(p.source)"])
                break
            }
        }
    }
}
