import Allocator
public import ClusterModel
import Foundation
public import Multiformats
public import UnixFS

/// One sharded add (`POST /add?shard=true`, `Specs/sharding.md`): leaves are cut into shards by
/// ``ShardPlanner``; each shard is allocated when it opens and its blocks go to its peers while
/// they arrive (a ``ClusterAdd`` per shard: the same window, backpressure and dropping of
/// failed peers). Nothing is pinned until ``finish(root:)``, which commits every shard pin, the
/// cluster DAG pin and the meta-pin in one pinset write.
public actor ShardedAdd {
    let peer: ClusterPeer
    /// The add's resolved options (replication per shard).
    public nonisolated let options: PinOptions
    private var planner: ShardPlanner
    /// The open shard's sender.
    private var open: ClusterAdd?
    /// Internal nodes that arrived before any shard was open (sent with the first).
    private var early: [Block] = []
    /// Every closed shard (its index, CID and size) with the peers that hold it.
    public private(set) var shards: [(shard: ShardRecord, holders: [PeerID])] = []

    /// A closed shard, without its node's bytes.
    public struct ShardRecord: Sendable {
        public let index: Int
        public let cid: CID
    }
    /// Bytes this add has placed on each peer (for the next shard's allocation).
    private var placed: [PeerID: UInt64] = [:]
    /// Peers dropped from a shard (or from the cluster DAG node's holders), with why.
    public private(set) var dropped: [(peer: PeerID, reason: String)] = []
    /// What the shards' senders sent (each counts its own; logged at the commit).
    private var sent = (blocks: 0, bytes: 0)

    /// `options.shardSize` is the shard size.
    init(peer: ClusterPeer, options: PinOptions) throws {
        self.peer = peer
        self.options = options
        do throws(UnixFSError) {
            planner = try ShardPlanner(shardSize: options.shardSize)
        } catch {
            throw ClusterError(.badRequest, error.message)
        }
    }

    /// Places and sends `blocks` (in the importer's order).
    public func put(_ blocks: [Block]) async throws {
        var run: [Block] = []
        for b in blocks {
            let placement: ShardPlanner.Placement
            let closed: ShardPlanner.Shard?
            do throws(UnixFSError) {
                (placement, closed) = try planner.place(b)
            } catch {
                throw ClusterError(.badRequest, error.message)
            }
            if let closed {
                try await send(run)
                run = []
                try await close(closed)
            }
            switch placement {
            case .repeated: continue
            case .internalNode:
                if open == nil { early.append(b) } else { run.append(b) }
            case .leaf(let index, let opened):
                if opened {
                    try await openShard(index)
                    run += early
                    early = []
                }
                run.append(b)
            }
        }
        try await send(run)
    }

    private func send(_ run: [Block]) async throws {
        guard let open, !run.isEmpty else { return }
        try await open.put(run)
    }

    private func openShard(_ index: Int) async throws {
        let holders = try await peer.allocateShard(options: options, need: planner.shardSize, placed: placed, index: index)
        let add = try await peer.openAdd(options: options, peers: holders, minimum: options.replicationFactorMin == -1 ? 1 : options.replicationFactorMin)
        for p in holders { placed[p, default: 0] += planner.shardSize }
        open = add
    }

    /// Sends the shard node to its peers and waits until they hold every block of it.
    private func close(_ shard: ShardPlanner.Shard) async throws {
        guard let add = open else { return }
        try await add.put([shard.block])
        let holders = try await add.finish()
        await tally(add)
        shards.append((ShardRecord(index: shard.index, cid: shard.block.cid), holders))
        open = nil
    }

    /// Closes the last shard, sends the cluster DAG node to every holder, and commits the pins:
    /// every shard, the cluster DAG, and the meta-pin for `root`. Returns the meta-pin.
    public func finish(root: CID) async throws -> (meta: Pin, shards: [Pin], clusterDAG: Pin) {
        if let last = planner.finish() { try await close(last) }
        guard !shards.isEmpty else { throw ClusterError(.badRequest, "nothing to shard: the add had no blocks without links") }
        let dag: ClusterDAGNode
        do throws(UnixFSError) {
            dag = try planner.clusterDAG(root: root)
        } catch {
            throw ClusterError(.badRequest, error.message)
        }
        let dagBlock = dag.block()
        let everyHolder = Array(Set(shards.flatMap(\.holders))).sorted()
        let dagSender = try await peer.openAdd(options: options, peers: everyHolder, minimum: 1)
        try await dagSender.put([dagBlock])
        let dagHolders = try await dagSender.finish()
        await tally(dagSender)
        return try await peer.commitSharded(
            root: root, clusterDAG: dagBlock.cid, dagNode: dag, dagHolders: dagHolders, shards: shards, options: options, sent: sent,
            dropped: dropped.map { "\($0.peer): \($0.reason)" })
    }

    private func tally(_ add: ClusterAdd) async {
        dropped += await add.dropped
        sent.blocks += await add.blocksSent
        sent.bytes += await add.bytesSent
    }
}

extension ClusterPeer {
    /// Starts a sharded add with `shardSize` bytes per shard (0: ipfs-cluster's default).
    public func beginShardedAdd(options: PinOptions, mode: PinMode? = nil, shardSize: UInt64) async throws -> ShardedAdd {
        var o = resolved(options, mode: mode)
        try Self.checkStorable(o)
        o.shardSize = shardSize == 0 ? ShardPlanner.defaultShardSize : shardSize
        if o.mode == .direct { throw ClusterError(.badRequest, "mode=direct cannot be sharded: a shard is pinned recursively") }
        return try ShardedAdd(peer: self, options: o)
    }

    /// The peers for shard `index`: live trusted peers with room for `need` more bytes beyond
    /// what the add `placed` on them already, in the balanced allocator's order (with that free
    /// space); every such peer for replication -1.
    func allocateShard(options o: PinOptions, need: UInt64, placed: [PeerID: UInt64], index: Int) async throws -> [PeerID] {
        let candidates = await self.candidates(excluding: [])
        var fits: [Candidate] = []
        for c in candidates {
            var metrics = c.metrics
            if let free = metrics["freespace"].flatMap({ UInt64($0) }) {
                let used = placed[c.peer, default: 0]
                let left = free > used ? free - used : 0
                if left < need { continue }
                metrics["freespace"] = String(left)
            }
            fits.append(Candidate(peer: c.peer, metrics: metrics))
        }
        if o.replicationFactorMin == -1 {
            guard !fits.isEmpty else { throw ClusterError(.unavailable, "shard \(index): no peer has \(need) bytes free") }
            return fits.map(\.peer).sorted()
        }
        do {
            return try allocator.allocate(
                cid: Self.addPlaceholder, replicationMin: o.replicationFactorMin, replicationMax: o.replicationFactorMax, current: [],
                userAllocations: o.userAllocations, candidates: fits)
        } catch {
            throw ClusterError(
                .unavailable,
                "cannot allocate shard \(index) (\(need) bytes): \(error.message) (\(fits.count) of \(candidates.count) live peers have room for it); add more peers or space, or lower replication-min")
        }
    }

    /// Commits a sharded add's pins in one pinset write: shards, the cluster DAG, the meta-pin.
    func commitSharded(
        root: CID, clusterDAG: CID, dagNode: ClusterDAGNode? = nil, dagHolders: [PeerID], shards: [(shard: ShardedAdd.ShardRecord, holders: [PeerID])],
        options o: PinOptions, sent: (blocks: Int, bytes: Int) = (0, 0), dropped: [String] = []
    ) async throws -> (meta: Pin, shards: [Pin], clusterDAG: Pin) {
        let now = Timestamp.now()
        var shardPins: [Pin] = []
        var previous: CID?
        for (shard, holders) in shards {
            var so = o
            so.name = "\(o.name)-shard-\(shard.index)"
            so.mode = .recursive
            let p = Pin(cid: shard.cid, type: .shard, allocations: o.replicationFactorMin == -1 ? [] : holders, maxDepth: -1, reference: previous, timestamp: now, options: so)
            shardPins.append(p)
            previous = shard.cid
        }
        var dagOptions = o
        dagOptions.name = "\(o.name)-clusterDAG"
        dagOptions.mode = .direct
        if o.replicationFactorMin != -1 {
            // Re-allocation after a holder dies keeps it on as many peers.
            dagOptions.replicationFactorMin = dagHolders.count
            dagOptions.replicationFactorMax = dagHolders.count
        }
        let dag = Pin(
            cid: clusterDAG, type: .clusterDAG, allocations: o.replicationFactorMin == -1 ? [] : dagHolders, maxDepth: 0, reference: root, timestamp: now,
            options: dagOptions)
        let meta = Pin(cid: root, type: .meta, allocations: [], maxDepth: 0, reference: clusterDAG, timestamp: now, options: o)
        try await pinset.pin(shardPins + [dag, meta])
        if let node = dagNode { remember(node, as: clusterDAG) }
        logger.info(
            "sharded add pinned",
            metadata: [
                "root": "\(root)", "shards": "\(shardPins.count)", "clusterdag": "\(clusterDAG)", "holders": "\(dagHolders.map(\.description))",
                "blocks": "\(sent.blocks)", "bytes": "\(sent.bytes)", "dropped": "\(dropped)",
            ])
        return (meta, shardPins, dag)
    }

    /// Keeps a cluster DAG node read or made here (content-addressed: never stale; the last 64).
    func remember(_ dag: ClusterDAGNode, as cid: CID) {
        if clusterDAGs.count >= 64 { clusterDAGs.removeAll() }
        clusterDAGs[cid] = dag
    }

    /// The cluster DAG node of a meta-pin: remembered, from this peer's IPFS, else from a holder.
    public func clusterDAG(of meta: Pin) async throws -> ClusterDAGNode {
        guard meta.type == .meta, let dagCID = meta.reference else {
            throw ClusterError(.badRequest, "\(meta.cid) is not the root of a sharded add")
        }
        if let known = clusterDAGs[dagCID] { return known }
        // This peer's blocks as it serves them to others, else a holder's.
        var bytes: [UInt8]? = try? await localBlocks(dagCID)
        if bytes == nil, let dagPin = try database.pin(dagCID) {
            // No allocations: pinned everywhere.
            let holders = dagPin.allocations.isEmpty ? await monitor.peers() : dagPin.allocations
            for holder in holders where holder != me {
                guard let connection = transport.connection(to: holder) else { continue }
                if let b = try? await PeerBlocks.fetch(dagCID, from: connection) {
                    bytes = b
                    break
                }
            }
        }
        guard let bytes, CID.v1(codec: .dagCBOR, .sha256(bytes)) == dagCID else {
            throw ClusterError(.unavailable, "the cluster DAG node \(dagCID) of \(meta.cid) is not readable here or from its holders")
        }
        do throws(UnixFSError) {
            let dag = try ClusterDAGNode(decoding: bytes)
            remember(dag, as: dagCID)
            return dag
        } catch {
            throw ClusterError(.unavailable, "the cluster DAG node \(dagCID) is malformed: \(error.message)")
        }
    }
}

extension ClusterPeer {
    /// A sharded add's status per peer (`Specs/sharding.md`): `sharded` where every shard
    /// allocated to the peer and the cluster DAG are pinned, else the least advanced of them;
    /// `remote` for a peer holding none.
    func shardedStatus(_ meta: Pin, local: Bool) async -> GlobalPinInfo {
        var out = GlobalPinInfo(cid: meta.cid, pin: meta)
        let members: [CID]
        do {
            let dag = try await clusterDAG(of: meta)
            members = dag.shards.map(\.cid) + [meta.reference].compactMap { $0 }
        } catch {
            let now = Timestamp.now()
            out.peerMap[me.description] = PinInfoShort(peername: settings.peername, status: .clusterError, timestamp: now, error: "\(error)")
            return out
        }
        let page: [CID: [PinInfo]]
        if local {
            page = Dictionary(uniqueKeysWithValues: zip(members, await tracker.statuses(members).map { [$0] }))
        } else {
            var holders = Set<PeerID>()
            for m in members { for p in (try? database.pin(m))?.allocations ?? [] { holders.insert(p) } }
            page = await statusPage(members, peers: await statusPeers(Array(holders)))
        }
        var byPeer: [String: [PinInfo]] = [:]
        for m in members { for info in page[m] ?? [] { byPeer[info.peer.description, default: []].append(info) } }
        for (peer, infos) in byPeer {
            guard var summary = infos.first?.short else { continue }
            let held = infos.filter { $0.short.status != .remote }
            if held.isEmpty {
                summary.status = .remote
            } else if held.allSatisfy({ $0.short.status == .pinned }) {
                summary.status = .sharded
                summary.error = ""
            } else {
                summary = held.map(\.short).min { Self.shardRank($0.status) < Self.shardRank($1.status) }!
            }
            out.peerMap[peer] = summary
        }
        return out
    }

    /// Lower: further from pinned (what a sharded add's summary shows first).
    static func shardRank(_ s: TrackerStatus) -> Int {
        switch s {
        case .clusterError, .pinError, .unexpectedlyUnpinned, .unpinError: 0
        case .pinQueued, .undefined: 1
        case .pinning: 2
        case .unpinQueued, .unpinning, .unpinned: 3
        case .remote, .sharded, .pinned: 4
        }
    }

    /// Every shard's status then the cluster DAG's, in order (`GET /pins/{root}/shards`).
    public func shardStatuses(_ root: CID, local: Bool = false) async throws -> [GlobalPinInfo] {
        guard let meta = try database.pin(root), meta.type == .meta else {
            throw ClusterError(.notFound, "\(root) is not the root of a sharded add in the cluster")
        }
        let dag = try await clusterDAG(of: meta)
        var out: [GlobalPinInfo] = []
        for m in dag.shards.map(\.cid) + [meta.reference].compactMap({ $0 }) { out.append(await status(m, local: local)) }
        return out
    }
}
