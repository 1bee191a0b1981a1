import Allocator
public import ClusterModel
import Foundation
public import Multiformats
import Transport
public import UnixFS

/// One add to the cluster (`POST /add`): the peers its blocks go to while the upload streams
/// in, and those dropped on the way. Nothing is pinned until ``ClusterPeer/commitAdd(_:roots:)``;
/// an add that fails leaves only unpinned blocks, which garbage collection reclaims.
public actor ClusterAdd {
    /// The resolved pin options the roots are committed with.
    public nonisolated let options: PinOptions
    /// Blocks go to this peer only; the pin is allocated as usual at the end.
    public nonisolated let local: Bool
    /// The fewest destinations the add may continue with.
    public nonisolated let minimum: Int
    private var destinations: [any BlockDestination]
    /// Destinations that failed, with why.
    public private(set) var dropped: [(peer: PeerID, reason: String)] = []
    public private(set) var blocksSent = 0
    public private(set) var bytesSent = 0
    /// CIDs sent lately: repeated content (the same chunk many times) is sent once.
    private var recent = RecentSet<CID>(capacity: 8192)

    init(options: PinOptions, local: Bool, minimum: Int, destinations: [any BlockDestination], dropped: [(PeerID, String)]) {
        self.options = options
        self.local = local
        self.minimum = minimum
        self.destinations = destinations
        self.dropped = dropped
    }

    /// The peers the blocks go to now.
    public var allocations: [PeerID] { destinations.map(\.peer) }

    /// Sends `blocks` to every destination at once; returns when each can take more. A
    /// destination that fails is dropped while at least `minimum` remain; below that the add
    /// fails.
    public func put(_ blocks: [Block]) async throws {
        var fresh = blocks
        fresh.removeAll { !recent.insert($0.cid) }
        guard !fresh.isEmpty else { return }
        blocksSent += fresh.count
        bytesSent += fresh.reduce(0) { $0 + $1.bytes.count }
        let toSend = fresh
        try await each { try await $0.put(toSend) }
    }

    /// Waits for every destination to hold every block durably; returns the peers that do.
    public func finish() async throws -> [PeerID] {
        try await each { try await $0.finish() }
        return allocations
    }

    private func each(_ body: @escaping @Sendable (any BlockDestination) async throws -> Void) async throws {
        let failures: [(Int, String)] = await withTaskGroup(of: (Int, String)?.self) { group in
            for (i, d) in destinations.enumerated() {
                group.addTask {
                    do {
                        try await body(d)
                        return nil
                    } catch {
                        return (i, "\(error)")
                    }
                }
            }
            var out: [(Int, String)] = []
            for await f in group { if let f { out.append(f) } }
            return out
        }
        guard !failures.isEmpty else { return }
        let failed = Set(failures.map(\.0))
        for (i, reason) in failures { dropped.append((destinations[i].peer, reason)) }
        destinations = destinations.enumerated().filter { !failed.contains($0.offset) }.map(\.element)
        try checkMinimum()
    }

    func checkMinimum() throws {
        guard destinations.count < max(minimum, 1) else { return }
        let why = dropped.map { "\($0.peer): \($0.reason)" }.joined(separator: "; ")
        throw ClusterError(
            .unavailable,
            "the add lost too many peers: \(destinations.count) left of the \(minimum) needed (\(why)); nothing was pinned. Retry when the peers are back, or lower replication-min")
    }
}

extension ClusterPeer {
    /// A CID no content has, for the allocator's messages before the add's CID is known.
    static let addPlaceholder = CID.v1(codec: .raw, Multihash.digest([], code: .sha2_256)!)

    /// Starts an add: resolves the options, allocates (unless `local`), and opens a block
    /// destination to each allocated peer. Peers that cannot be reached are dropped at once
    /// while the minimum holds.
    public func beginAdd(options: PinOptions, mode: PinMode? = nil, local: Bool = false) async throws -> ClusterAdd {
        let o = resolved(options, mode: mode)
        try Self.checkStorable(o)
        var peers: [PeerID]
        var minimum = 1
        if local {
            peers = [me]
        } else if o.replicationFactorMin == -1 {
            // Everywhere: every live peer gets the blocks; the pin keeps empty allocations.
            peers = Array(Set(await monitor.peers()).union([me])).sorted()
            if settings.pinOnlyOnTrustedPeers { peers = peers.filter { $0 == me || settings.trust.trusts($0) } }
        } else {
            do {
                peers = try await allocate(
                    Self.addPlaceholder, min: o.replicationFactorMin, max: o.replicationFactorMax, current: [], user: o.userAllocations,
                    excluding: [])
            } catch let e as AllocationError {
                throw ClusterError(.unavailable, "cannot allocate the content being added: \(e.message)")
            }
            minimum = o.replicationFactorMin
        }
        return try await openAdd(options: o, peers: peers, minimum: minimum, local: local)
    }

    /// A block destination to each of `peers` (this peer's own store for itself); peers that
    /// are not connected are dropped at once while `minimum` holds.
    func openAdd(options o: PinOptions, peers: [PeerID], minimum: Int, local: Bool = false) async throws -> ClusterAdd {
        var destinations: [any BlockDestination] = []
        var dropped: [(PeerID, String)] = []
        for p in peers {
            if p == me {
                destinations.append(LocalDestination(peer: me, store: blockStore))
            } else if let d = RemoteDestination(peer: p, transport: transport) {
                destinations.append(d)
            } else {
                dropped.append((p, "not connected"))
            }
        }
        let add = ClusterAdd(options: o, local: local, minimum: minimum, destinations: destinations, dropped: dropped)
        try await add.checkMinimum()
        return add
    }

    /// Waits until every remaining destination holds the blocks, then pins each root with
    /// the add's options: allocated to those destinations, or as usual for a local add or
    /// one pinned everywhere.
    public func commitAdd(_ add: ClusterAdd, roots: [CID]) async throws -> [Pin] {
        let holders = try await add.finish()
        let (blocks, bytes) = (await add.blocksSent, await add.bytesSent)
        logger.info("add sent", metadata: ["blocks": "\(blocks)", "bytes": "\(bytes)", "peers": "\(holders.map(\.description))"])
        var pins: [Pin] = []
        let fixed = add.local || add.options.replicationFactorMin == -1 ? nil : holders
        for root in roots { pins.append(try await pin(root, options: add.options, allocations: fixed)) }
        return pins
    }
}
