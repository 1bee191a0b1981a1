import Allocator
public import ClusterModel
public import Datastore
public import Gossip
import Foundation
public import IPFSConnector
public import Logging
public import Multiformats
public import NIOCore
import PeerMonitor
import UnixFS
public import Pinset
import PinTracker
import SecureChannel
public import Sodium
public import Transport

/// Why the peer refused a request: what was wrong and what to do.
public struct ClusterError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable { case notFound, badRequest, unavailable }
    public let kind: Kind
    public let message: String
    public var description: String { message }
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// One cluster peer: the transport and its connections, pubsub, the shared pinset, the
/// monitor and its informers, the stateless pin tracker against the IPFS daemon, allocation,
/// repinning when a peer dies, expiry, and the RPC other peers call (status, blocks).
public actor ClusterPeer {
    public struct Settings: Sendable {
        public var peername = "peer"
        public var clusterName = "pinmesh"
        public var trust = TrustPolicy.everyone
        public var pinOnlyOnTrustedPeers = false
        public var replicationMin = -1
        public var replicationMax = -1
        public var allocateBy = ["tag:group", "freespace"]
        public var listenHost = "127.0.0.1"
        public var listenPort = 0
        public var bootstrap: [Multiaddr] = []
        /// Where `pinset.sqlite` and `peerstore.json` live.
        public var dataDirectory: String
        public var disableRepinning = false
        /// A peer down this long has its pins re-allocated.
        public var repinningDelay: Duration = .seconds(10)
        /// Expired pins are looked for this often.
        public var expiryInterval: Duration = .seconds(1)
        /// Pins allocated here that the daemon lacks are re-queued this often.
        public var recoverInterval: Duration = .seconds(12 * 60)
        /// After this (and then every `recoverInterval`), the IPFS daemon connects to the other
        /// peers' daemons at the addresses their pings carry (`connect_swarms_delay`).
        public var connectSwarmsDelay: Duration = .seconds(30)
        /// Pins that moved away from this peer are checked this often: each is unpinned here once
        /// enough of its new allocations report it pinned (``PinHandovers``).
        public var handoverInterval: Duration = .seconds(5)
        /// Peers that do not answer a status request within this are reported as `cluster_error`.
        public var statusTimeout: Duration = .seconds(10)
        public var pinset = PinsetService.Settings()
        public var monitor = MonitorService.Settings()
        public var tracker = PinTrackerService.Settings()
        public var connections = ConnectionManager.Settings()
        public var gossip = GossipSettings()

        public init(dataDirectory: String) { self.dataDirectory = dataDirectory }

        /// The settings `service.json` describes (bootstrap peers from `peer_addresses`).
        public init(config c: ServiceConfig, dataDirectory: String) throws {
            self.dataDirectory = dataDirectory
            peername = c.cluster.peername
            clusterName = c.consensus.crdt.clusterName
            let trusted = c.consensus.crdt.trustedPeers
            trust = trusted.contains("*") ? .everyone : .peers(Set(try trusted.map { try PeerID($0) }))
            pinOnlyOnTrustedPeers = c.cluster.pinOnlyOnTrustedPeers
            replicationMin = c.cluster.replicationFactorMin
            replicationMax = c.cluster.replicationFactorMax
            allocateBy = c.allocator.balanced.allocateBy
            let listen = try c.cluster.listenMultiaddress.map { try Multiaddr($0) }
            guard let (host, port) = listen.lazy.compactMap(SecureTransport.hostAndPort).first else {
                throw ServiceConfig.ConfigError(key: "cluster.listen_multiaddress", problem: "needs a /ip4|ip6/<host>/tcp/<port> address")
            }
            listenHost = host
            listenPort = port
            bootstrap = try c.cluster.peerAddresses.map { try Multiaddr($0) }
            disableRepinning = c.cluster.disableRepinning
            repinningDelay = c.duration(c.cluster.repinningDelay)
            recoverInterval = c.duration(c.cluster.pinRecoverInterval)
            connectSwarmsDelay = c.duration(c.ipfsConnector.ipfshttp.connectSwarmsDelay)
            pinset.clusterName = clusterName
            pinset.trust = trust
            pinset.batching.maxItems = c.consensus.crdt.batching.maxBatchSize
            pinset.batching.maxQueue = c.consensus.crdt.batching.maxQueueSize
            pinset.batching.maxAgeMillis = Int64(c.duration(c.consensus.crdt.batching.maxBatchAge).components.seconds * 1000
                + c.duration(c.consensus.crdt.batching.maxBatchAge).components.attoseconds / 1_000_000_000_000_000)
            monitor.clusterName = clusterName
            monitor.pingInterval = c.duration(c.cluster.monitorPingInterval)
            monitor.checkInterval = c.duration(c.monitor.pubsubmon.checkInterval)
            monitor.informerTTL = c.duration(c.informer.disk.metricTtl)
            monitor.tags = c.informer.tags.tags
            tracker.concurrentPins = c.pinTracker.stateless.concurrentPins
            tracker.pinTimeout = c.duration(c.ipfsConnector.ipfshttp.pinTimeout)
            tracker.unpinTimeout = c.duration(c.ipfsConnector.ipfshttp.unpinTimeout)
            tracker.instance.priorityMaxRetries = c.pinTracker.stateless.priorityPinMaxRetries
            let age = c.duration(c.pinTracker.stateless.priorityPinMaxAge).components
            tracker.instance.priorityMaxAgeMillis = age.seconds * 1000
            connections.peerstorePath = URL(fileURLWithPath: dataDirectory).appendingPathComponent("peerstore.json")
        }
    }

    public static let statusMethod = "tracker/status"
    public static let recoverMethod = "tracker/recover"
    public static let idMethod = "cluster/id"
    /// CIDs per status request (an answer must fit one RPC frame).
    static let statusPage = 100
    /// Pins read from the state at a time by a stream (`GET /allocations`, `GET /pins`): a
    /// thousand open streams each hold one page while their clients read.
    public static let streamPage = 100

    public let settings: Settings
    public nonisolated let me: PeerID
    public nonisolated let transport: SecureTransport
    public let database: PinsetDatabase
    public let pubsub: PubSubService
    public let connections: ConnectionManager
    public let pinset: PinsetService
    public let monitor: MonitorService
    public let tracker: PinTrackerService
    /// Pins moved away from here, kept until their new holders have them.
    let handovers: PinHandovers
    let connector: any IPFSConnector
    let localBlocks: PeerBlocks.LocalBlocks
    /// Cluster DAG nodes of sharded adds read or made here (``clusterDAG(of:)``).
    var clusterDAGs: [CID: ClusterDAGNode] = [:]
    /// Where blocks given to this peer (adds) are stored.
    public nonisolated let blockStore: LocalBlockStore
    let allocator: BalancedAllocator
    var downPeers: DownPeers
    /// Dead peers whose pins could not all be re-allocated yet (retried at every check).
    var repinAgain: Set<PeerID> = []
    /// Peers removed with `peers rm`: they count no more for the majority rule, and their pins
    /// move at the next check (a removed peer that pings again is live again).
    var removedPeers: Set<PeerID> = []
    /// Whether the warning that this peer sees too few peers to move pins was logged (once per spell).
    var minorityLogged = false
    /// Checks at which dead peers were due but this peer saw no majority, so nothing moved.
    public internal(set) var repinsHeldForMinority = 0
    /// Rounds of ``checkHandovers()`` done (for tests: await rounds, not time).
    public internal(set) var handoverChecks = 0
    private var tasks: [Task<Void, Never>] = []
    var logger: Logger
    /// The API's requests: admitted while the peer runs, refused ("shutting down") once
    /// ``stop()`` began, which waits for the admitted ones before it closes anything.
    public nonisolated let requests = RequestGate()
    public private(set) var listenPort = 0
    public internal(set) var repinned = 0
    public private(set) var expired = 0
    private var started = false
    var traffic: TrafficSample?
    var startedAt: ContinuousClock.Instant?

    /// - Parameter localBlocks: where this peer's blocks are read for other peers; default:
    ///   the IPFS daemon's `block/stat` and `block/get`.
    /// - Parameter blockStore: where blocks given to this peer are stored; default: the IPFS
    ///   daemon's `block/put`.
    public init(
        settings: Settings, identity: Ed25519.PrivateKey, secret: SecureBytes, connector: any IPFSConnector, group: any EventLoopGroup,
        localBlocks: PeerBlocks.LocalBlocks? = nil, blockStore: LocalBlockStore? = nil, logger: Logger = Logger(label: "pinmesh.peer")
    ) throws {
        self.settings = settings
        self.connector = connector
        me = try PeerID(ed25519PublicKey: identity.publicKey.bytes)
        var logger = logger
        logger[metadataKey: "peer"] = "\(settings.peername)"
        self.logger = logger
        try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
        transport = SecureTransport(settings: HandshakeSettings(clusterSecret: secret, identity: identity), group: group, logger: logger)
        database = try PinsetDatabase(path: settings.dataDirectory + "/pinset.sqlite")
        pubsub = try PubSubService(transport: transport, identity: identity, settings: settings.gossip, logger: logger)
        connections = try ConnectionManager(transport: transport, settings: settings.connections, logger: logger)
        pinset = try PinsetService(database: database, transport: transport, pubsub: pubsub, identity: identity, settings: settings.pinset, logger: logger)
        var monitorSettings = settings.monitor
        monitorSettings.clusterName = settings.clusterName
        monitorSettings.pingValue = String(decoding: try JSONEncoder().encode(PingValue(peername: settings.peername, ipfsID: nil)), as: UTF8.self)
        monitor = MonitorService(pubsub: pubsub, me: me, settings: monitorSettings, logger: logger)
        tracker = PinTrackerService(connector: connector, state: database, me: me, peername: settings.peername, settings: settings.tracker, logger: logger)
        handovers = PinHandovers(database: database, me: me)
        allocator = BalancedAllocator(allocateBy: settings.allocateBy)
        downPeers = DownPeers(delay: settings.repinningDelay)
        self.localBlocks = localBlocks ?? { [connector] cid in
            guard try await connector.blockStat(cid) != nil else { return nil }
            return try await connector.blockGet(cid)
        }
        self.blockStore = blockStore ?? LocalBlockStore(put: { [connector] blocks in
            _ = try await connector.blockPut(AsyncStream { c in
                for b in blocks { c.yield(b) }
                c.finish()
            })
        })
    }

    // MARK: lifecycle

    /// Listens, joins the cluster through the bootstrap peers, and starts every component.
    /// Returns the cluster port.
    @discardableResult
    public func start() async throws -> Int {
        precondition(!started, "a ClusterPeer starts once")
        started = true
        let server = transport.server
        PeerBlocks.serve(on: server, local: localBlocks)
        BlockPush.serve(on: server, store: blockStore)
        registerOperations(on: server)
        server.register(Self.statusMethod) { [tracker] _, payload in
            let cids = try JSONDecoder().decode([CID].self, from: Data(payload))
            guard cids.count <= Self.statusPage else { throw ClusterError(.badRequest, "at most \(Self.statusPage) CIDs per status request") }
            return try JSONEncoder().encode(await tracker.statuses(cids)).bytes
        }
        server.register(Self.recoverMethod) { [tracker] _, payload in
            let cid = try JSONDecoder().decode(CID.self, from: Data(payload))
            return try JSONEncoder().encode(await tracker.recover(cid)).bytes
        }
        server.register(Self.idMethod) { [weak self] _, _ in
            guard let self else { throw ClusterError(.unavailable, "the peer is stopping") }
            return try JSONEncoder().encode(await self.id()).bytes
        }
        await pubsub.start()
        await pubsub.dialExchangedPeers(through: connections)
        listenPort = try await transport.listen(host: settings.listenHost, port: settings.listenPort)
        let advertised = settings.listenHost == "0.0.0.0" ? "127.0.0.1" : settings.listenHost
        let family = advertised.contains(":") ? "ip6" : "ip4"
        await connections.start(listenAddresses: [try Multiaddr("/\(family)/\(advertised)/tcp/\(listenPort)")])
        try await pinset.start()
        // The IPFS daemon's ID goes in the ping and the status entries; a daemon that is not up
        // yet (the daemon starts both at once) is asked again by the recover loop below.
        await learnIPFSID()
        await configureMonitor()
        await monitor.start()
        let changes = await pinset.changes()
        tasks.append(Task { [tracker, handovers] in
            for await keys in changes { await tracker.changed(await handovers.route(keys)) }
        })
        tasks.append(Task { [weak self, settings] in
            while !Task.isCancelled {
                try? await Task.sleep(for: settings.handoverInterval)
                await self?.checkHandovers()
            }
        })
        let alerts = await monitor.alerts()
        tasks.append(Task { [weak self] in
            for await a in alerts where a.metric.name == "ping" { await self?.peerAlerted(a.metric.peer) }
        })
        tasks.append(Task { [weak self, settings] in
            while !Task.isCancelled {
                try? await Task.sleep(for: settings.monitor.checkInterval)
                await self?.checkDownPeers()
            }
        })
        tasks.append(Task { [weak self, settings] in
            while !Task.isCancelled {
                try? await Task.sleep(for: settings.expiryInterval)
                await self?.expirePins()
            }
        })
        tasks.append(Task { [weak self, settings] in
            // The IPFS daemons of the cluster connect to each other, as ipfs-cluster's do, so
            // content moves between them over bitswap (the cluster's block RPC is the fallback).
            try? await Task.sleep(for: settings.connectSwarmsDelay)
            while !Task.isCancelled {
                await self?.connectSwarms()
                try? await Task.sleep(for: settings.recoverInterval)
            }
        })
        tasks.append(Task { [weak self, settings, tracker, logger] in
            // At start, then every recover interval: pins allocated here that the daemon lacks,
            // and failed operations whose backoff has passed (Specs/configuration.md).
            while !Task.isCancelled {
                await self?.learnIPFSID()
                do {
                    await tracker.retryFailed(interval: settings.recoverInterval)
                    try await tracker.reconcile()
                } catch {
                    logger.warning("cannot compare the state with the IPFS daemon's pins; retrying", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(5))
                    continue
                }
                guard self != nil else { return }
                try? await Task.sleep(for: settings.recoverInterval)
            }
        })
        tasks.append(Task { [weak self] in
            let metrics = NodeMetrics()
            var round = 0
            while !Task.isCancelled {
                // The counts read whole indexes: every 15 s; the rest every second.
                await self?.sample(metrics, counts: round % 15 == 0)
                round += 1
                try? await Task.sleep(for: .seconds(1))
            }
        })
        if !settings.bootstrap.isEmpty {
            let reached = await connections.bootstrap(settings.bootstrap)
            if reached > 0, let first = transport.connectedPeers.first {
                try? await pinset.sync(from: first)
            }
        }
        startedAt = .now
        logger.info("peer ready", metadata: ["id": "\(me)", "port": "\(listenPort)", "peers": "\(transport.connectedPeers.count)"])
        return listenPort
    }

    var ipfsIDKnown = false

    /// Pins allocated here, counted from the allocation index at most every 10 s (a count
    /// reads every index entry of this peer).
    private var numPinCache: (value: Int, at: ContinuousClock.Instant)?

    func numPin() -> Int? {
        if let c = numPinCache, ContinuousClock.now - c.at < .seconds(10) { return c.value }
        guard let n = try? database.count(allocatedTo: me) else { return nil }
        numPinCache = (n, .now)
        return n
    }

    private func configureMonitor() async {
        let tracker = self.tracker
        let connector = self.connector
        await monitor.addInformer {
            guard let stat = try? await connector.repoStat() else { return nil }
            return ("freespace", String(stat.freeSpace), Int64(clamping: stat.freeSpace))
        }
        await monitor.addInformer {
            let n = await tracker.queued + tracker.inProgress
            return ("pinqueue", String(n), -Int64(n))
        }
        await monitor.addInformer { [weak self] in
            guard let n = await self?.numPin() else { return nil }
            return ("numpin", String(n), -Int64(n))
        }
    }

    private func sample(_ m: NodeMetrics, counts: Bool) async {
        sampleTraffic()
        m.queued.record(await tracker.queued)
        m.inProgress.record(await tracker.inProgress)
        m.pinsDone.record(await tracker.pinsDone)
        m.pinsFailed.record(await tracker.pinsFailed)
        m.failedNow.record(await tracker.failedCount)
        if counts {
            if let n = numPin() { m.allocatedHere.record(n) }
            if let n = try? database.count() { m.statePins.record(n) }
        }
        m.peers.record(await monitor.peers().count)
        m.missingHeads.record(await pinset.missingHeads)
        m.nodesApplied.record(await pinset.stats.nodesApplied)
        let c = await pubsub.counters
        m.published.record(c.published)
        m.delivered.record(c.delivered)
        m.duplicates.record(c.duplicates)
        m.droppedFrames.record(pubsub.droppedFrames)
        m.metricBytes.record(await monitor.bytesPublished)
        m.repinned.record(repinned)
    }

    /// Stops everything: refuses new API requests and waits (up to 10 s) for those running,
    /// commits queued pinset writes, cancels running pins, closes connections, closes the database.
    public func stop() async {
        requests.close()
        _ = await requests.drained(within: .seconds(10))
        let running = tasks
        tasks = []
        for t in running { t.cancel() }
        await monitor.stop()
        await pinset.stop()
        await tracker.stop()
        await connections.stop()
        await pubsub.stop()
        await transport.shutdown()
        // The loops read the database (repinning, expiry, handovers): they end before it
        // closes, or a read in flight would use a closed connection.
        for t in running { await t.value }
        try? database.close()
        logger.info("peer stopped")
    }

    // MARK: pinning

    /// Pins `cid` in the cluster: allocates it (keeping current holders), commits it to the
    /// shared state, and returns the pin. Replication 0/0 takes the configured defaults.
    ///
    /// Metadata under the reserved keys (``isReservedMetadata(_:)``: the Pinning Service API's
    /// requests) of a pin already there is kept when `options` name none, so a re-pin through
    /// the REST API, the proxy or pinmeshctl does not drop them; `replacingReserved` (the
    /// Pinning Service API, which owns them) writes `options` as they are.
    public func pin(_ cid: CID, options: PinOptions = PinOptions(), mode: PinMode? = nil, replacingReserved: Bool = false) async throws -> Pin {
        var o = options
        if !replacingReserved, !o.metadata.keys.contains(where: Self.isReservedMetadata), let existing = try database.pin(cid) {
            for (k, v) in existing.options.metadata where Self.isReservedMetadata(k) { o.metadata[k] = v }
        }
        return try await pin(cid, options: resolved(o, mode: mode), allocations: nil)
    }

    /// Whether a metadata key is reserved to the Pinning Service API: `psa`, or `psa:` and more.
    public static func isReservedMetadata(_ key: String) -> Bool { key == "psa" || key.hasPrefix("psa:") }

    /// The options a pin is committed with: replication 0 takes the configured defaults, -1
    /// on either side means everywhere (as ipfs-cluster reads it), `mode` overrides.
    func resolved(_ options: PinOptions, mode: PinMode?) -> PinOptions {
        var o = options
        if o.replicationFactorMin == 0 { o.replicationFactorMin = settings.replicationMin }
        if o.replicationFactorMax == 0 { o.replicationFactorMax = settings.replicationMax }
        if o.replicationFactorMin == -1 || o.replicationFactorMax == -1 {
            o.replicationFactorMin = -1
            o.replicationFactorMax = -1
        }
        if let mode { o.mode = mode }
        return o
    }

    /// Refuses options the pinset cannot store (a name or metadata over the stored limits, …)
    /// before any work is done: committed, such a pin could not be read back or replicated.
    static func checkStorable(_ o: PinOptions) throws {
        do { try PinCodec.validate(o) } catch { throw ClusterError(.badRequest, "nothing was pinned: \(error.message)") }
    }

    /// Commits a pin with resolved options; `fixed` allocations are taken as they are
    /// (an add's surviving destinations), otherwise the allocator chooses.
    func pin(_ cid: CID, options o: PinOptions, allocations fixed: [PeerID]?) async throws -> Pin {
        let existing = try database.pin(cid)
        if let existing, existing.type != .data {
            throw ClusterError(
                .badRequest,
                "\(cid) is pinned as a \(existing.type.name) of a sharded add; pinning it as a whole would orphan its shards: unpin the add's root first")
        }
        var current = existing?.allocations ?? []
        if let from = o.pinUpdate {
            guard let old = try database.pin(from) else {
                throw ClusterError(.notFound, "pin update from \(from): that CID is not pinned in the cluster; pin \(cid) without pin-update instead")
            }
            current = old.allocations
        }
        var pin = Pin(cid: cid, type: .data, allocations: [], maxDepth: o.mode == .direct ? 0 : -1, timestamp: .now(), options: o)
        try Self.checkStorable(o)
        if !pin.isPinEverywhere {
            if let fixed {
                pin.allocations = fixed
            } else {
                pin.allocations = try await allocate(cid, min: o.replicationFactorMin, max: o.replicationFactorMax, current: current, user: o.userAllocations, excluding: [])
            }
        }
        try await pinset.pin([pin])
        logger.info("pinned", metadata: ["cid": "\(cid)", "allocations": "\(pin.allocations.map(\.description))"])
        return pin
    }

    /// Removes `cid` from the cluster's pinset; the root of a sharded add takes its cluster
    /// DAG and shard pins with it (one write). Shard and cluster DAG pins are not unpinned alone.
    @discardableResult
    public func unpin(_ cid: CID) async throws -> Pin {
        guard let pin = try database.pin(cid) else {
            throw ClusterError(.notFound, "\(cid) is not pinned in the cluster (nothing to unpin)")
        }
        switch pin.type {
        case .shard, .clusterDAG:
            let root = pin.type == .clusterDAG ? pin.reference.map { " (\($0))" } ?? "" : ""
            throw ClusterError(.badRequest, "\(cid) is a \(pin.type.name) of a sharded add: unpin the add's root\(root) instead, which removes all its shards")
        case .meta:
            let dag = try await clusterDAG(of: pin)
            try await pinset.unpin([cid] + [pin.reference].compactMap { $0 } + dag.shards.map(\.cid))
        default:
            try await pinset.unpin([cid])
        }
        return pin
    }

    public func pinned(_ cid: CID) throws -> Pin? { try database.pin(cid) }

    /// The CID an IPFS path (`/ipfs/<cid>/a/b`, `/ipns/<name>`, `/ipld/<cid>/…`) names, as this
    /// peer's IPFS daemon resolves it.
    public func resolve(_ path: String) async throws -> CID {
        do {
            return try await connector.resolve(path)
        } catch {
            throw ClusterError(.badRequest, "cannot resolve \(path): \(error)")
        }
    }

    /// Every pin of the shared state in key order, read in pages (never all at once).
    public nonisolated func forEachPin(_ body: (Pin) async throws -> Void) async throws {
        var after: CID?
        while true {
            let page = try database.pins(after: after, limit: Self.streamPage)
            for p in page { try await body(p) }
            guard page.count == Self.streamPage, let last = page.last else { return }
            after = last.cid
        }
    }

    /// Candidates: live peers (trusted only when configured so), with their metrics.
    func candidates(excluding: Set<PeerID>) async -> [Candidate] {
        var out: [Candidate] = []
        for p in await monitor.peers() where !excluding.contains(p) {
            if settings.pinOnlyOnTrustedPeers && !settings.trust.trusts(p) { continue }
            out.append(Candidate(peer: p, metrics: await monitor.values(of: p)))
        }
        return out
    }

    func allocate(_ cid: CID, min: Int, max: Int, current: [PeerID], user: [PeerID], excluding: Set<PeerID>) async throws -> [PeerID] {
        let c = await candidates(excluding: excluding)
        return try allocator.allocate(
            cid: cid, replicationMin: min, replicationMax: max, current: current.filter { !excluding.contains($0) },
            userAllocations: user, candidates: c)
    }

    // MARK: expiry

    private func expirePins() async {
        guard let due = try? database.keys(expiredAt: Timestamp.now().unixMillis), !due.isEmpty else { return }
        let live = await monitor.peers().filter { settings.trust.trusts($0) }
        let mine = due.filter { responsiblePeer(for: $0, among: live.isEmpty ? [me] : live) == me }
        guard !mine.isEmpty else { return }
        do {
            try await pinset.unpin(mine)
            expired += mine.count
            logger.info("unpinned expired pins", metadata: ["count": "\(mine.count)"])
        } catch {
            logger.warning("cannot unpin expired pins", metadata: ["error": "\(error)"])
        }
    }

    // MARK: status

    /// Peer names from the ping metrics (peers without a live ping are left out).
    public func peerNames() async -> [PeerID: String] {
        var out: [PeerID: String] = [me: settings.peername]
        for m in await monitor.metrics("ping") {
            if let v = try? JSONDecoder().decode(PingValue.self, from: Data(m.value.utf8)) { out[m.peer] = v.peername }
        }
        return out
    }

    /// The peers a cluster-wide status asks: live peers, this one, and any allocation.
    func statusPeers(_ extra: [PeerID] = []) async -> [PeerID] {
        var set = Set(await monitor.peers())
        set.insert(me)
        for p in extra { set.insert(p) }
        return set.sorted()
    }

    /// Every peer's status of `cid` (local: this peer's only).
    public func status(_ cid: CID, local: Bool = false) async -> GlobalPinInfo {
        let pin = try? database.pin(cid)
        if let pin, pin.type == .meta { return await shardedStatus(pin, local: local) }
        var out = GlobalPinInfo(cid: cid, pin: pin)
        if local {
            let mine = await tracker.status(cid)
            out.peerMap[me.description] = mine.short
            return out
        }
        let page = await statusPage([cid], peers: await statusPeers(pin?.allocations ?? []))
        for info in page[cid] ?? [] { out.peerMap[info.peer.description] = info.short }
        return out
    }

    /// Asks every peer in `peers` for the status of `cids` (in parallel); a peer that does
    /// not answer gets `cluster_error` entries.
    nonisolated func statusPage(_ cids: [CID], peers: [PeerID]) async -> [CID: [PinInfo]] {
        let names = await peerNames()
        let payload = (try? JSONEncoder().encode(cids).bytes) ?? []
        let timeout = settings.statusTimeout
        let results = await withTaskGroup(of: (PeerID, Result<[PinInfo], any Error>).self) { g in
            for p in peers {
                g.addTask { [tracker, transport, me] in
                    if p == me { return (p, .success(await tracker.statuses(cids))) }
                    do {
                        guard let c = transport.connection(to: p) else {
                            throw ClusterError(.unavailable, "not connected")
                        }
                        let answer = try await c.call(Self.statusMethod, payload, timeout: timeout)
                        return (p, .success(try JSONDecoder().decode([PinInfo].self, from: Data(answer))))
                    } catch {
                        return (p, .failure(error))
                    }
                }
            }
            var all: [(PeerID, Result<[PinInfo], any Error>)] = []
            for await r in g { all.append(r) }
            return all
        }
        var out: [CID: [PinInfo]] = [:]
        for (peer, result) in results {
            switch result {
            case .success(let infos):
                for i in infos { out[i.cid, default: []].append(i) }
            case .failure(let error):
                for cid in cids {
                    let short = PinInfoShort(peername: names[peer] ?? peer.description, status: .clusterError, timestamp: .now(), error: "\(error)")
                    out[cid, default: []].append(PinInfo(cid: cid, pin: nil, peer: peer, short: short))
                }
            }
        }
        return out
    }

    /// Every pin's status, cluster-wide (or this peer's with `local`), streamed to `body` in
    /// pages of the state: the whole set is never held.
    /// Off the actor (see ``PinTrackerService/statusAll(filter:_:)``): a stream's pages and its
    /// consumer never queue on the peer's actor, which pins and unpins need.
    public nonisolated func statusAll(local: Bool = false, filter: Set<TrackerStatus>? = nil, _ body: @Sendable (GlobalPinInfo) async throws -> Void) async throws {
        if local {
            let me = self.me
            try await tracker.statusAll(filter: filter) { info in
                var g = GlobalPinInfo(details: info.details)
                g.peerMap[me.description] = info.short
                try await body(g)
            }
            return
        }
        let peers = await statusPeers()
        var after: CID?
        while true {
            let pins = try database.pins(after: after, limit: Self.statusPage)
            let page = await statusPage(pins.map(\.cid), peers: peers)
            for pin in pins {
                var g = GlobalPinInfo(cid: pin.cid, pin: pin)
                for i in page[pin.cid] ?? [] { g.peerMap[i.peer.description] = i.short }
                if let filter, !g.peerMap.values.contains(where: { filter.contains($0.status) }) { continue }
                try await body(g)
            }
            guard pins.count == Self.statusPage, let last = pins.last else { return }
            after = last.cid
        }
    }

    /// Re-queues `cid` where it failed: on this peer (local) or on every peer.
    public func recover(_ cid: CID, local: Bool = false) async throws -> GlobalPinInfo {
        if local {
            let info = try await tracker.recover(cid)
            var g = GlobalPinInfo(cid: cid, pin: try database.pin(cid))
            g.peerMap[me.description] = info.short
            return g
        }
        let pin = try database.pin(cid)
        var g = GlobalPinInfo(cid: cid, pin: pin)
        let names = await peerNames()
        let payload = try JSONEncoder().encode(cid).bytes
        for p in await statusPeers(pin?.allocations ?? []) {
            if p == me {
                g.peerMap[p.description] = try await tracker.recover(cid).short
                continue
            }
            do {
                guard let c = transport.connection(to: p) else { throw ClusterError(.unavailable, "not connected") }
                let answer = try await c.call(Self.recoverMethod, payload, timeout: settings.statusTimeout)
                g.peerMap[p.description] = try JSONDecoder().decode(PinInfo.self, from: Data(answer)).short
            } catch {
                g.peerMap[p.description] = PinInfoShort(peername: names[p] ?? p.description, status: .clusterError, timestamp: .now(), error: "\(error)")
            }
        }
        return g
    }

    // MARK: peers

    /// This peer's identity for the API (ipfs-cluster's `ID`, the fields PinMesh has).
    public struct ID: Codable, Sendable, Equatable {
        public var id: String
        public var peername: String
        public var addresses: [String]
        public var clusterPeers: [String]
        public var version: String
        public var ipfs: IPFSInfo?
        public var error: String
        public struct IPFSInfo: Codable, Sendable, Equatable {
            public var id: String
            public var addresses: [String]
        }
        enum CodingKeys: String, CodingKey {
            case id, peername, addresses, version, ipfs, error
            case clusterPeers = "cluster_peers"
        }
    }

    public func id() async -> ID {
        let ipfs = try? await connector.id()
        return ID(
            id: me.description, peername: settings.peername,
            addresses: ["/ip4/\(settings.listenHost == "0.0.0.0" ? "127.0.0.1" : settings.listenHost)/tcp/\(listenPort)/p2p/\(me)"],
            clusterPeers: await monitor.peers().map(\.description), version: PinMeshVersion.string,
            ipfs: ipfs.map { ID.IPFSInfo(id: $0.id, addresses: $0.addresses) }, error: ipfs == nil ? "the IPFS daemon does not answer" : "")
    }

    /// Every live peer's identity, this one's first, each asked over RPC (in parallel); a peer
    /// that does not answer is listed with its name and the error.
    public func peers() async -> [ID] {
        let names = await peerNames()
        let others = await monitor.peers().filter { $0 != me }
        let timeout = settings.statusTimeout
        var out = [await id()]
        let answers = await withTaskGroup(of: ID.self) { g in
            for p in others {
                g.addTask { [transport] in
                    do {
                        guard let c = transport.connection(to: p) else { throw ClusterError(.unavailable, "not connected") }
                        return try JSONDecoder().decode(ID.self, from: Data(try await c.call(Self.idMethod, [], timeout: timeout)))
                    } catch {
                        return ID(id: p.description, peername: names[p] ?? "", addresses: [], clusterPeers: [], version: "", ipfs: nil, error: "\(error)")
                    }
                }
            }
            var all: [ID] = []
            for await a in g { all.append(a) }
            return all.sorted { $0.id < $1.id }
        }
        out += answers
        return out
    }
}

extension Data {
    var bytes: [UInt8] { [UInt8](self) }
}
