public import ClusterModel
public import Datastore
import Foundation
public import Logging
public import Multiformats
public import Pinset
public import Sodium
public import Transport

/// The shared pinset on a running peer: local writes batched into signed deltas and stored
/// durably, announced on pubsub, and missing deltas fetched from peers in pages
/// (`Specs/pinset-crdt.md`).
public actor PinsetService {
    public static let fetchMethod = "pinset/fetch"
    public static let snapshotMethod = "pinset/snapshot"
    public static let blocksMethod = "pinset/blocks"
    /// Nodes in one fetch page (bytes of encoded nodes; one node may be up to `DeltaNode.maxBytes`).
    static let pageBudget = DeltaNode.maxBytes

    public struct Settings: Sendable {
        public var clusterName = "pinmesh"
        public var trust = TrustPolicy.everyone
        public var batching: WriteBatcher.Settings = {
            var b = WriteBatcher.Settings()
            b.maxAgeMillis = 5
            return b
        }()
        /// Heads are re-announced this often (anti-entropy): a lost announcement heals within it.
        public var announceInterval: Duration = .seconds(1)
        public var fetchTimeout: Duration = .seconds(10)
        /// Drop history below the served snapshot once every live trusted peer acknowledged it.
        public var compaction = true

        public init() {}
    }

    public let settings: Settings
    public nonisolated let topic: String
    private let database: PinsetDatabase
    private let transport: SecureTransport
    private let pubsub: PubSubService
    private let key: Ed25519.PrivateKey
    private let me: PeerID
    private let rules: PinsetInstance
    private var logger: Logger

    /// Every applied node's links, for serving fetches without reading the database.
    private var links: [CID: NodeLinks] = [:]
    private var heads: [CID] = []
    private var batcher: WriteBatcher
    private var waiters: [CheckedContinuation<Void, any Error>] = []
    private var commitTask: Task<Void, Never>?
    private var tasks: [Task<Void, Never>] = []
    /// Heads peers announced that we lack, by peer; synced one peer at a time.
    private var wanted: [PeerID: [CID]] = [:]
    private var syncing = false
    private var syncQueue: [CheckedContinuation<Void, Never>] = []
    private var loadingSnapshot = false
    /// The snapshot this peer serves (made here or loaded), with its heads.
    private var served: (cid: CID, root: PinsetSnapshot)?
    /// Snapshot roots peers announced, with their heads (verified), newest few.
    private var knownSnapshots: [CID: PinsetSnapshot] = [:]
    /// Snapshot roots being fetched now.
    private var learning: Set<CID> = []
    /// The newest snapshot whose heads this peer has all applied.
    private var acknowledged: CID?
    /// What each peer last acknowledged.
    private var acknowledgements: [PeerID: CID] = [:]
    /// The snapshot below which this peer's history is dropped already.
    private var prunedBelow: CID?
    /// Nodes refused (untrusted, bad signature): never fetched again.
    private var refused: Set<CID> = []
    private var changeStreams: [Int: AsyncStream<[CID]>.Continuation] = [:]
    private var nextStream = 0

    public private(set) var stats = Stats()

    /// What this peer acknowledged and serves (for tests and `crdt info`).
    public var snapshotState: (served: CID?, acknowledged: CID?, prunedBelow: CID?) { (served?.cid, acknowledged, prunedBelow) }

    public struct Stats: Sendable {
        public var nodesApplied = 0
        public var nodesCommitted = 0
        public var fetchRounds = 0
        public var nodesRefused = 0
        public var snapshotsLoaded = 0
        public var nodesPruned = 0
        /// Fetches answered "that history is dropped here; start from this snapshot" while
        /// this peer was not empty (it must be reset to rejoin).
        public var prunedHistoryAnswers = 0
    }

    public init(
        database: PinsetDatabase, transport: SecureTransport, pubsub: PubSubService, identity: Ed25519.PrivateKey,
        settings: Settings = Settings(), logger: Logger = Logger(label: "pinmesh.pinset")
    ) throws {
        self.database = database
        self.transport = transport
        self.pubsub = pubsub
        self.key = identity
        self.me = try PeerID(ed25519PublicKey: identity.publicKey.bytes)
        self.settings = settings
        self.topic = "pinset/\(settings.clusterName)"
        self.rules = PinsetInstance(trust: settings.trust)
        self.batcher = WriteBatcher(settings: settings.batching)
        var logger = logger
        logger[metadataKey: "peer"] = "\(me)"
        self.logger = logger
    }

    /// Loads the DAG index, serves fetches, joins the topic and starts announcing.
    public func start() async throws {
        let loaded = try database.allLinks()
        links = loaded
        heads = try database.read { try $0.heads() }
        if let (cid, bytes) = try database.latestSnapshot(), let root = try? PinsetSnapshot(decoding: bytes) {
            served = (cid, root)
            knownSnapshots[cid] = root
            // Stubs at the snapshot's heads mean its history is gone here already.
            if root.heads.allSatisfy({ loaded[$0.cid]?.parents.isEmpty ?? false }) { prunedBelow = cid }
            checkAcknowledgement()
        }
        let server = transport.server
        server.register(Self.fetchMethod) { [weak self] peer, payload in
            guard let self else { throw PinsetError(.storage, "the pinset service is stopped") }
            return try await self.serveFetch(from: peer, payload)
        }
        server.register(Self.snapshotMethod) { [weak self] _, _ in
            guard let self else { throw PinsetError(.storage, "the pinset service is stopped") }
            return try self.database.latestSnapshot()?.bytes ?? []
        }
        server.register(Self.blocksMethod) { [weak self] _, payload in
            guard let self else { throw PinsetError(.storage, "the pinset service is stopped") }
            let request = try PinsetBlocksRequest(decoding: payload)
            return PinsetBlocksResponse(blocks: try self.database.snapshotBlocks(request.cids, budget: Self.pageBudget)).encoded()
        }
        let messages = await pubsub.subscribe(topic)
        tasks.append(Task { [weak self] in
            for await m in messages {
                guard let self, let from = m.from else { continue }
                await self.received(m.data, from: from)
            }
        })
        let interval = settings.announceInterval
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                await self.announce(nodes: [])
            }
        })
        logger.info("pinset ready", metadata: ["nodes": "\(links.count)", "heads": "\(heads.count)"])
    }

    /// Commits what is queued, then stops the loops. Pending writers get their answer.
    public func stop() async {
        await commitNow()
        // Writes that could not commit (a snapshot was loading) get a clear answer.
        for w in waiters { w.resume(throwing: PinsetError(.storage, "the pinset service stopped before this write was committed; nothing of it was stored")) }
        waiters = []
        for t in tasks { t.cancel() }
        tasks = []
        commitTask?.cancel()
        commitTask = nil
        for (_, c) in changeStreams { c.finish() }
        changeStreams = [:]
    }

    // MARK: Local writes

    /// Adds or replaces pins; returns once they are committed (durable) locally.
    public func pin(_ pins: [Pin]) async throws { try await submit(pins.map { .pin($0) }) }

    /// Gives pins new values (the cluster moving a dead peer's allocations) that hold only while
    /// each pin stays pinned: a concurrent unpin wins. Returns once committed locally.
    /// `basis`: each pin's elements when its value was read (``PinsetDatabase/elements(of:)``).
    public func reallocate(_ pins: [(pin: Pin, basis: [CID])]) async throws { try await submit(pins.map { .reallocate($0.pin, basis: $0.basis) }) }

    /// Removes pins; returns once the removal is committed locally.
    public func unpin(_ cids: [CID]) async throws { try await submit(cids.map { .unpin($0) }) }

    private func submit(_ ops: [PinsetOperation]) async throws {
        // A peer outside its own trusted_peers signs deltas no peer applies, itself included.
        guard settings.trust.trusts(me) else {
            throw PinsetError(
                .untrusted,
                "this peer (\(me)) is not in its own consensus.crdt.trusted_peers, so it cannot change the pinset and nothing was written: send the request to a trusted peer's API, or add \(me) to trusted_peers in service.json on every peer and restart them"
            )
        }
        // All of a call's operations are queued or none: a partial write would be worse
        // than a clear refusal.
        guard batcher.count + ops.count <= settings.batching.maxQueue else {
            throw PinsetError(
                .queueFull,
                "the pinset write queue holds \(batcher.count) operations and \(ops.count) more exceed its \(settings.batching.maxQueue); retry later or raise batching.max_queue"
            )
        }
        // A pin over a stored limit would be committed, then fail every read of the state
        // here and be refused by every other peer: refuse it before anything is queued.
        for p in ops.compactMap(\.value) { try PinCodec.validate(p) }
        let now = Self.millis()
        for op in ops { try batcher.add(op, now: now) }
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            waiters.append(c)
            scheduleCommit()
        }
    }

    private func scheduleCommit() {
        guard commitTask == nil, let due = batcher.dueAt else { return }
        let delay = max(0, due - Self.millis())
        commitTask = Task { [weak self] in
            if delay > 0 { try? await Task.sleep(for: .milliseconds(delay)) }
            await self?.commitNow()
        }
    }

    private func commitNow() async {
        commitTask = nil
        // While a snapshot loads, local writes wait: the load replaces the state, and a delta
        // made before its heads exist would link none of them.
        guard !loadingSnapshot else { return }
        let ops = batcher.take(now: Self.millis(), force: true)
        let batchWaiters = waiters
        waiters = []
        guard !ops.isEmpty else {
            for w in batchWaiters { w.resume() }
            return
        }
        do {
            let (rules, key, me) = (self.rules, self.key, self.me)
            let made: [(cid: CID, node: DeltaNode, bytes: [UInt8], changed: [CID])] = try database.write { store in
                var out: [(CID, DeltaNode, [UInt8], [CID])] = []
                var rest = ops[...]
                while let d = try rules.makeDelta(&rest, author: key, authorID: me, in: store) {
                    let applied = try rules.apply(d.node, cid: d.cid, bytes: d.bytes, to: &store)
                    out.append((d.cid, d.node, d.bytes, applied?.changedKeys ?? []))
                }
                return out
            }
            for m in made { record(m.cid, m.node) }
            stats.nodesCommitted += made.count
            for w in batchWaiters { w.resume() }
            notify(made.flatMap(\.changed))
            await announce(nodes: made.map(\.bytes))
        } catch {
            logger.error("pinset commit failed; nothing of it was stored", metadata: ["error": "\(error)"])
            for w in batchWaiters { w.resume(throwing: error) }
        }
        scheduleCommit()
    }

    private func record(_ cid: CID, _ node: DeltaNode) {
        links[cid] = NodeLinks(height: node.height, parents: node.parents)
        let parents = Set(node.parents)
        heads.removeAll { parents.contains($0) }
        heads.append(cid)
        heads.sort()
    }

    // MARK: Announcements

    private func announce(nodes: [[UInt8]]) async {
        guard !heads.isEmpty else { return }
        var inline: [[UInt8]] = []
        var size = 0
        for n in nodes {
            guard size + n.count <= PinsetAnnouncement.maxInlineBytes else { break }
            inline.append(n)
            size += n.count
        }
        let message = PinsetAnnouncement(
            heads: Array(heads.suffix(PinsetAnnouncement.maxHeads)), nodes: inline, snapshot: served?.cid, acknowledged: acknowledged)
        do { _ = try await pubsub.publish(topic, message.encoded()) } catch {
            logger.debug("pinset announcement not published", metadata: ["error": "\(error)"])
        }
    }

    private func received(_ data: [UInt8], from peer: PeerID) async {
        let message: PinsetAnnouncement
        do { message = try PinsetAnnouncement(decoding: data) } catch {
            logger.debug("malformed pinset announcement ignored", metadata: ["from": "\(peer)", "error": "\(error)"])
            return
        }
        if !message.nodes.isEmpty { _ = applyPage(message.nodes, from: peer, quiet: true) }
        if let a = message.acknowledged { acknowledgements[peer] = a }
        if let s = message.snapshot, knownSnapshots[s] == nil, !refused.contains(s), learning.insert(s).inserted {
            // Off the announcement loop: a slow peer must not hold up everyone's announcements.
            Task { [weak self] in
                await self?.learnSnapshot(s, from: peer)
                await self?.learned(s)
            }
        }
        checkAcknowledgement()
        await compactIfAcknowledged()
        let unknown = message.heads.filter { links[$0] == nil && !refused.contains($0) }
        guard !unknown.isEmpty else { return }
        wanted[peer] = unknown
        await syncWanted()
    }

    // MARK: Compaction

    private func learned(_ cid: CID) async {
        learning.remove(cid)
        checkAcknowledgement()
        await compactIfAcknowledged()
    }

    /// Fetches and checks the root of a snapshot a peer announced it serves.
    private func learnSnapshot(_ cid: CID, from peer: PeerID) async {
        guard let connection = transport.connection(to: peer) else { return }
        do {
            let bytes = try await connection.call(Self.snapshotMethod, [], timeout: settings.fetchTimeout)
            guard !bytes.isEmpty, DeltaNode.cid(of: bytes) == cid else { return }  // it moved on meanwhile
            let root = try PinsetSnapshot(decoding: bytes)
            guard settings.trust.trusts(root.author), root.hasValidSignature else {
                refuse([cid])
                return
            }
            if knownSnapshots.count >= 16, let oldest = knownSnapshots.min(by: { $0.value.created < $1.value.created })?.key {
                knownSnapshots[oldest] = nil
            }
            knownSnapshots[cid] = root
        } catch {
            logger.debug("snapshot root not fetched", metadata: ["from": "\(peer)", "error": "\(error)"])
        }
    }

    /// Acknowledges the newest known snapshot whose heads are all applied here.
    private func checkAcknowledgement() {
        let covered = knownSnapshots.filter { $0.value.heads.allSatisfy { links[$0.cid] != nil } }
        guard let newest = covered.max(by: { ($0.value.heads.map(\.height).max() ?? 0) < ($1.value.heads.map(\.height).max() ?? 0) })
        else { return }
        acknowledged = newest.key
    }

    /// Drops the history below the served snapshot once every live trusted peer (the peers
    /// subscribed to the pinset topic) acknowledged it. The snapshot's heads stay as stubs;
    /// a peer that later asks for what lies below them is pointed at the snapshot.
    private func compactIfAcknowledged() async {
        guard settings.compaction, let (cid, root) = served, prunedBelow != cid, acknowledged == cid else { return }
        let live = await pubsub.peers(subscribedTo: topic).filter { settings.trust.trusts($0) }
        guard !live.isEmpty, live.allSatisfy({ acknowledgements[$0] == cid }) else { return }
        var below = Set<CID>()
        var stack = root.heads.flatMap { links[$0.cid]?.parents ?? [] }
        while let c = stack.popLast() {
            guard below.insert(c).inserted, let l = links[c] else { continue }
            stack += l.parents
        }
        let stubs = Array(below) + root.heads.map(\.cid)
        do {
            try database.prune(stubs)
        } catch {
            logger.error("pinset compaction failed; nothing was dropped", metadata: ["error": "\(error)"])
            return
        }
        for c in stubs { if let l = links[c] { links[c] = NodeLinks(height: l.height, parents: []) } }
        prunedBelow = cid
        stats.nodesPruned += below.count
        logger.info("pinset history compacted", metadata: ["snapshot": "\(cid)", "nodes dropped": "\(below.count)", "peers": "\(live.count)"])
    }

    // MARK: Fetching

    /// Fetches everything `peer` has that we lack (all of its heads). For joining and tests.
    public func sync(from peer: PeerID) async throws {
        // One sync at a time: two at once could both find the DAG empty, one loading a
        // snapshot while the other replays history the snapshot covers.
        if syncing { await withCheckedContinuation { syncQueue.append($0) } }
        syncing = true
        defer { releaseSync() }
        try await fetchAll(from: peer, want: [])
        await syncPending()
    }

    private func syncWanted() async {
        guard !syncing else { return }  // the running sync picks up `wanted` before it ends
        syncing = true
        defer { releaseSync() }
        await syncPending()
    }

    /// Hands the sync turn to the next waiting `sync(from:)`, or frees it.
    private func releaseSync() {
        if syncQueue.isEmpty {
            syncing = false
        } else {
            syncQueue.removeFirst().resume()
        }
    }

    private func syncPending() async {
        while let (peer, want) = wanted.first {
            wanted[peer] = nil
            let still = want.filter { links[$0] == nil }
            guard !still.isEmpty else { continue }
            do { try await fetchAll(from: peer, want: still) } catch {
                logger.debug("pinset fetch failed", metadata: ["from": "\(peer)", "error": "\(error)"])
            }
        }
    }

    /// Fetched nodes are applied in transactions of about this many pin operations: one
    /// transaction per page would spend most of the time writing the same pages again.
    public static let applyBatchOperations = 10_000

    private func fetchAll(from peer: PeerID, want: [CID]) async throws {
        guard let connection = transport.connection(to: peer) else {
            throw PinsetError(.storage, "no connection to \(peer) to fetch pinset nodes from")
        }
        // A new peer starts from the responder's snapshot when it has one.
        if links.isEmpty { _ = try await loadSnapshot(from: peer, connection: connection) }
        var want = want
        var lastPage: [CID] = []
        var buffered: [Decoded] = []
        var operations = 0
        defer { if !buffered.isEmpty { _ = apply(buffered, from: peer, quiet: false) } }
        // The next page is requested as soon as this one's heads are known, so fetching it
        // overlaps applying this one.
        func request() -> Task<[UInt8], any Error> {
            let links = self.links
            let payload = PinsetFetchRequest(want: want, have: SyncWalk.frontier(heads: heads, extra: lastPage) { links[$0] }).encoded()
            let timeout = settings.fetchTimeout
            return Task { try await connection.call(Self.fetchMethod, payload, timeout: timeout) }
        }
        var reply = request()
        defer { reply.cancel() }
        while true {
            let page = try PinsetFetchResponse(decoding: try await reply.value)
            stats.fetchRounds += 1
            if want.isEmpty { want = page.heads }
            if page.nodes.isEmpty, let snapshot = page.snapshot {
                stats.prunedHistoryAnswers += 1
                logger.error(
                    "\(peer) no longer holds the history this peer lacks; only a new peer can start from its snapshot \(snapshot). Run 'pinmesh state cleanup' and restart to rejoin from it")
            }
            guard !page.nodes.isEmpty else { return }
            var decoded: [Decoded] = []
            for bytes in page.nodes {
                let cid = DeltaNode.cid(of: bytes)
                do { decoded.append(Decoded(node: try DeltaNode(decoding: bytes), cid: cid, bytes: bytes)) } catch {
                    logger.warning("malformed pinset node from \(peer) refused", metadata: ["cid": "\(cid)", "error": "\(error)"])
                    refuse([cid])
                    return
                }
                operations += decoded.last!.node.adds.count + decoded.last!.node.removes.count
            }
            // The page's own heads join `have`, so the next page starts after it (whether or
            // not it is applied yet).
            var linked = Set<CID>()
            for d in decoded { linked.formUnion(d.node.parents) }
            let next = decoded.map(\.cid).filter { !linked.contains($0) }
            guard next != lastPage else { return }
            lastPage = next
            let more = page.remaining > 0
            if more { reply = request() }
            buffered += decoded
            if operations >= Self.applyBatchOperations || !more {
                let batch = buffered
                buffered = []
                operations = 0
                guard apply(batch, from: peer, quiet: false) else { return }
                if !more {
                    if want.allSatisfy({ self.links[$0] != nil }) { return }
                    reply = request()
                }
            }
        }
    }

    struct Decoded: Sendable {
        let node: DeltaNode
        let cid: CID
        let bytes: [UInt8]
    }

    private func applyPage(_ nodes: [[UInt8]], from peer: PeerID, quiet: Bool) -> Bool {
        var decoded: [Decoded] = []
        for bytes in nodes {
            let cid = DeltaNode.cid(of: bytes)
            guard let node = try? DeltaNode(decoding: bytes) else {
                refuse([cid])
                return false
            }
            decoded.append(Decoded(node: node, cid: cid, bytes: bytes))
        }
        return apply(decoded, from: peer, quiet: quiet)
    }

    private func refuse(_ cids: [CID]) {
        stats.nodesRefused += cids.count
        if refused.count > 100_000 { refused.removeAll() }
        refused.formUnion(cids)
    }

    /// Applies decoded nodes (parents first) in one transaction. True when every node is now
    /// applied (new, or known before); false when one was refused.
    private func apply(_ nodes: [Decoded], from peer: PeerID, quiet: Bool) -> Bool {
        let rules = self.rules
        var applied: [PinsetInstance.Applied] = []
        var failure: (any Error)?
        var bad: [CID] = []
        do {
            applied = try database.write { store in
                var out: [PinsetInstance.Applied] = []
                for d in nodes {
                    do {
                        if let a = try rules.apply(d.node, cid: d.cid, bytes: d.bytes, to: &store) { out.append(a) }
                    } catch let e as PinsetError where e.code != .storage {
                        // Keep what applied so far; the rest waits for a fetch (or is refused).
                        failure = e
                        if e.code != .missingParents { bad.append(d.cid) }
                        break
                    }
                }
                return out
            }
        } catch {
            logger.error("applying pinset nodes failed; none of them was stored", metadata: ["error": "\(error)"])
            return false
        }
        for a in applied { record(a.cid, a.node) }
        stats.nodesApplied += applied.count
        if !applied.isEmpty && acknowledged != served?.cid { checkAcknowledgement() }
        notify(applied.flatMap(\.changedKeys))
        if !bad.isEmpty { refuse(bad) }
        if let failure, !(quiet && (failure as? PinsetError)?.code == .missingParents) {
            logger.warning("pinset node from \(peer) not applied", metadata: ["error": "\(failure)"])
        }
        return failure == nil
    }

    private func serveFetch(from peer: PeerID, _ payload: [UInt8]) throws -> [UInt8] {
        let request = try PinsetFetchRequest(decoding: payload)
        let links = self.links
        let want = request.want.isEmpty ? heads : request.want
        let missing = SyncWalk.missing(want: want, have: request.have) { links[$0] }
        var nodes: [[UInt8]] = []
        var size = 0
        var pruned = false
        try database.read { store in
            for cid in missing {
                guard let bytes = try store.nodeBytes(cid) else { break }
                // A node this peer only knows from a snapshot: its history is not here.
                guard !bytes.isEmpty else {
                    pruned = true
                    break
                }
                guard nodes.isEmpty || size + bytes.count <= Self.pageBudget else { break }
                nodes.append(bytes)
                size += bytes.count
            }
        }
        let snapshot = pruned ? try database.latestSnapshot()?.cid : nil
        return PinsetFetchResponse(
            nodes: pruned ? [] : nodes, remaining: missing.count - nodes.count, heads: Array(want.suffix(PinsetAnnouncement.maxHeads)),
            snapshot: snapshot
        ).encoded()
    }

    // MARK: Snapshots

    /// Makes a snapshot of the state at the current heads and serves it from now on.
    @discardableResult
    public func makeSnapshot() throws -> CID? {
        let made = try database.makeSnapshot(author: me, key: key, created: .now())
        if let made {
            logger.info("pinset snapshot made", metadata: ["root": "\(made.cid)", "elements": "\(made.root.elements)"])
            served = (made.cid, made.root)
            knownSnapshots[made.cid] = made.root
            checkAcknowledgement()
        }
        return made?.cid
    }

    /// Loads `peer`'s snapshot into this (empty) pinset: root, then indexes, then chunks,
    /// each block checked against its CID, the elements written in transactions of about
    /// `applyBatchOperations`, the heads last. False when the peer has no snapshot.
    private func loadSnapshot(from peer: PeerID, connection: PeerConnection) async throws -> Bool {
        let rootBytes = try await connection.call(Self.snapshotMethod, [], timeout: settings.fetchTimeout)
        guard !rootBytes.isEmpty else { return false }
        let root = try PinsetSnapshot(decoding: rootBytes)
        let rootCID = DeltaNode.cid(of: rootBytes)
        guard settings.trust.trusts(root.author) else {
            throw PinsetError(.untrusted, "snapshot \(rootCID) from \(peer) is signed by \(root.author), which is not in trusted_peers")
        }
        guard root.hasValidSignature else { throw PinsetError(.badSignature, "snapshot \(rootCID) from \(peer) has an invalid signature") }
        // Something may have been written while the root was on its way.
        guard links.isEmpty, !loadingSnapshot else { return false }
        loadingSnapshot = true
        defer {
            loadingSnapshot = false
            scheduleCommit()
        }
        logger.info("loading pinset snapshot", metadata: ["root": "\(rootCID)", "from": "\(peer)", "elements": "\(root.elements)"])
        try database.clearAll()

        var chunks: [CID] = []
        let indexBlocks = try await Self.fetchBlocks(root.indexes, from: connection, timeout: settings.fetchTimeout)
        for block in indexBlocks { chunks += try SnapshotIndex.decode(block.bytes) }
        try database.addSnapshotBlocks(indexBlocks)
        var loaded: UInt64 = 0
        var group: (key: CID, elements: [PinElement])?
        var batch: [(key: CID, elements: [PinElement])] = []
        var batchElements = 0
        var lastKey: CID?
        func flush() throws {
            let rows = batch
            batch = []
            batchElements = 0
            try database.write { store in
                for (key, elements) in rows {
                    let sorted = elements.sorted { $0.wins(over: $1) }
                    if sorted.count == 1, try store.insertIfAbsent(sorted[0], of: key) { continue }
                    try store.setElements(sorted, of: key)
                }
            }
        }
        let timeout = settings.fetchTimeout
        func prefetch(_ start: Int) -> Task<[(cid: CID, bytes: [UInt8])], any Error>? {
            guard start < chunks.count else { return nil }
            let ask = Array(chunks[start..<min(chunks.count, start + 16)])
            return Task { try await Self.fetchBlocks(ask, from: connection, timeout: timeout) }
        }
        var start = 0
        var next = prefetch(0)
        defer { next?.cancel() }
        while let pending = next {
            let blocks = try await pending.value
            start += blocks.count
            next = prefetch(start)
            for block in blocks {
                for (key, element) in try SnapshotChunk.decode(block.bytes) {
                    if let g = group, g.key == key {
                        group!.elements.append(element)
                    } else {
                        if let last = lastKey, !(last < key) {
                            throw PinsetError(.malformed, "snapshot \(rootCID): keys out of order across chunks")
                        }
                        if let g = group {
                            batch.append(g)
                            if batchElements >= Self.applyBatchOperations { try flush() }
                        }
                        group = (key, [element])
                        lastKey = key
                    }
                    batchElements += 1
                    loaded += 1
                }
            }
            try database.addSnapshotBlocks(blocks)
        }
        if let g = group { batch.append(g) }
        try flush()
        guard loaded == root.elements else {
            throw PinsetError(.malformed, "snapshot \(rootCID) announced \(root.elements) elements but its chunks hold \(loaded)")
        }
        // Every node the snapshot covers becomes a known stub, so none is ever applied again.
        var covered: [PinsetSnapshot.Head] = []
        let coverBlocks = try await Self.fetchBlocks(root.covered, from: connection, timeout: settings.fetchTimeout)
        for block in coverBlocks { covered += try SnapshotCover.decode(block.bytes) }
        try database.addSnapshotBlocks(coverBlocks)
        try database.insertStubs(covered)
        try database.write { store in
            for h in root.heads {
                if try store.links(of: h.cid) == nil { try store.insertNode(h.cid, links: NodeLinks(height: h.height, parents: []), bytes: []) }
                try store.updateHeads(removing: [], adding: h.cid)
            }
        }
        for n in covered { links[n.cid] = NodeLinks(height: n.height, parents: []) }
        try database.keepSnapshot(root: (rootCID, rootBytes), blocks: [], replacing: false)
        for h in root.heads { links[h.cid] = NodeLinks(height: h.height, parents: []) }
        heads = try database.read { try $0.heads() }
        served = (rootCID, root)
        knownSnapshots[rootCID] = root
        prunedBelow = rootCID
        checkAcknowledgement()
        stats.snapshotsLoaded += 1
        logger.info("pinset snapshot loaded", metadata: ["root": "\(rootCID)", "elements": "\(loaded)"])
        return true
    }

    /// Fetches blocks by CID, every one checked against its CID, in request order.
    private static func fetchBlocks(_ cids: [CID], from connection: PeerConnection, timeout: Duration) async throws -> [(cid: CID, bytes: [UInt8])] {
        var out: [(cid: CID, bytes: [UInt8])] = []
        var rest = cids[...]
        while !rest.isEmpty {
            let ask = Array(rest.prefix(PinsetBlocksRequest.maxBlocks))
            let reply = try PinsetBlocksResponse(
                decoding: try await connection.call(Self.blocksMethod, PinsetBlocksRequest(cids: ask).encoded(), timeout: timeout))
            guard !reply.blocks.isEmpty else { throw PinsetError(.storage, "the peer no longer serves snapshot block \(ask[0])") }
            for (cid, bytes) in zip(ask, reply.blocks) {
                guard DeltaNode.cid(of: bytes) == cid else {
                    throw PinsetError(.malformed, "snapshot block \(cid) does not match its CID: refused")
                }
                out.append((cid, bytes))
            }
            rest = rest.dropFirst(reply.blocks.count)
        }
        return out
    }

    // MARK: Reading

    /// The current heads.
    public var currentHeads: [CID] { heads }

    /// Heads peers announced that this peer has not applied yet (the sync lag, in heads).
    public var missingHeads: Int { wanted.values.reduce(0) { $0 + $1.count } }

    /// A stream of the keys whose winning pin changed, one element per applied batch.
    public func changes() -> AsyncStream<[CID]> {
        let (stream, c) = AsyncStream.makeStream(of: [CID].self, bufferingPolicy: .bufferingNewest(4096))
        nextStream += 1
        changeStreams[nextStream] = c
        return stream
    }

    private func notify(_ keys: [CID]) {
        guard !keys.isEmpty else { return }
        for (_, c) in changeStreams { c.yield(keys) }
    }

    static func millis() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }
}
