public import CodedError
public import Multiformats

/// Why no allocation could be made.
public struct AllocationError: CodedError {
    public let code: ErrorCode<AllocationError>
    public let message: String

    public init(_ code: ErrorCode<AllocationError>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == AllocationError {
    /// Fewer usable peers than the replication minimum.
    public static let notEnoughPeers = Self("notEnoughPeers")
    /// The replication factors make no sense (min above max, zero).
    public static let badFactors = Self("badFactors")
}

/// A candidate peer and the values of its live metrics (`freespace`, `tag:group`, ...).
public struct Candidate: Hashable, Sendable {
    public let peer: PeerID
    public var metrics: [String: String]

    public init(peer: PeerID, metrics: [String: String]) {
        self.peer = peer
        self.metrics = metrics
    }
}

/// ipfs-cluster's balanced allocator, as a pure function.
///
/// Peers are ordered by `allocateBy`, metric after metric. A **partitionable** metric (`tag:*`,
/// or any whose values are not numbers) splits the peers into groups by value; the groups are
/// taken in turn, one peer from each, so replicas spread across groups (two copies land in two
/// `group`s before any group gets a second). Within a group the next metric orders the peers.
/// A numeric metric orders them: `freespace` and unknown numbers highest first, `pinqueue` and
/// `numpin` lowest first (less queued, fewer pins is better). `freespace` is compared rounded to
/// its 8 most significant bits (within 0.4–0.8 %), so the few kilobytes small pins take do not
/// order the peers. Groups are ordered by their best peer. Ties are broken by rendezvous hashing
/// of the CID over the tied peers (SHA-256 of CID bytes ‖ peer ID multihash, highest first), so
/// pins spread evenly over equal peers and the result is deterministic; without a CID
/// (``order(_:)``), by peer ID.
///
/// Allocation keeps current holders that are still candidates, puts user allocations first,
/// then fills from the ordered candidates up to `replicationMax` (at least `replicationMin`,
/// else an error naming the numbers). -1 for both means every candidate.
public struct BalancedAllocator: Sendable {
    public let allocateBy: [String]

    public init(allocateBy: [String]) { self.allocateBy = allocateBy }

    /// Metrics where a lower value is better.
    static let lowerIsBetter: Set<String> = ["pinqueue", "numpin"]

    public func allocate(
        cid: CID, replicationMin: Int, replicationMax: Int, current: [PeerID], userAllocations: [PeerID], candidates: [Candidate]
    ) throws(AllocationError) -> [PeerID] {
        let everywhere = replicationMin == -1 && replicationMax == -1
        if !everywhere {
            guard replicationMin >= 1, replicationMax == -1 || replicationMax >= replicationMin else {
                throw AllocationError(.badFactors, "replication factors min \(replicationMin), max \(replicationMax) for \(cid): min must be at least 1 and not above max (-1 for both: every peer)")
            }
        }
        let usable = Set(candidates.map(\.peer))
        let key = RendezvousTiebreak(cid: cid, peers: candidates.map(\.peer))
        if everywhere { return order(candidates, metrics: allocateBy[...], key).map(\.peer) }
        let want = replicationMax == -1 ? usable.count : replicationMax
        // Current holders that are still usable stay, up to the maximum.
        var chosen: [PeerID] = []
        for p in current where usable.contains(p) && !chosen.contains(p) && chosen.count < want { chosen.append(p) }
        for p in userAllocations where usable.contains(p) && !chosen.contains(p) && chosen.count < want { chosen.append(p) }
        if chosen.count < want {
            let rest = candidates.filter { !chosen.contains($0.peer) }
            for c in order(rest, metrics: allocateBy[...], key) where chosen.count < want { chosen.append(c.peer) }
        }
        guard chosen.count >= replicationMin else {
            throw AllocationError(
                .notEnoughPeers,
                "not enough peers to allocate \(cid): needed at least \(replicationMin), wanted at most \(replicationMax), \(usable.count) candidate peers available. Add peers, wait for dead ones to return, or lower replication_factor_min")
        }
        return chosen
    }

    /// Every candidate, best first; ties by peer ID.
    public func order(_ candidates: [Candidate]) -> [Candidate] {
        order(candidates, metrics: allocateBy[...], RendezvousTiebreak(cid: nil, peers: []))
    }

    private func order(_ peers: [Candidate], metrics: ArraySlice<String>, _ key: RendezvousTiebreak) -> [Candidate] {
        guard let m = metrics.first else { return peers.sorted { key.before($0.peer, $1.peer) } }
        let rest = metrics.dropFirst()
        if Self.isPartitionable(m, peers) {
            // Groups by value, each ordered by the remaining metrics; best group first.
            var groups: [String: [Candidate]] = [:]
            for p in peers { groups[p.metrics[m] ?? "", default: []].append(p) }
            let ordered = groups.map { (key: $0.key, peers: order($0.value, metrics: rest, key)) }
                .sorted { a, b in
                    let (x, y) = (a.peers[0], b.peers[0])
                    if let c = compare(x, y, metrics: rest), c != 0 { return c < 0 }
                    return a.key < b.key
                }
            // One from each group in turn.
            var out: [Candidate] = []
            var round = 0
            while out.count < peers.count {
                for g in ordered where round < g.peers.count { out.append(g.peers[round]) }
                round += 1
            }
            return out
        }
        return peers.sorted { a, b in
            if let c = compare(a, b, metrics: metrics), c != 0 { return c < 0 }
            return key.before(a.peer, b.peer)
        }
    }

    /// Negative when `a` is better on the first numeric metric that differs.
    private func compare(_ a: Candidate, _ b: Candidate, metrics: ArraySlice<String>) -> Int? {
        for m in metrics {
            guard let x = a.metrics[m].flatMap(Double.init).map({ Self.rounded($0, m) }), let y = b.metrics[m].flatMap(Double.init).map({ Self.rounded($0, m) })
            else {
                // A peer without the metric sorts after one with it.
                if a.metrics[m] != nil && b.metrics[m] == nil { return -1 }
                if a.metrics[m] == nil && b.metrics[m] != nil { return 1 }
                continue
            }
            if x == y { continue }
            let better = Self.lowerIsBetter.contains(m) ? x < y : x > y
            return better ? -1 : 1
        }
        return nil
    }

    /// `freespace` kept to its 8 most significant bits; other metrics as they are.
    static func rounded(_ value: Double, _ metric: String) -> Double {
        guard metric == "freespace", value.isFinite, value >= 256 else { return value }
        let bits = UInt64(min(value, Double(UInt64.max >> 1)))
        let drop = (64 - bits.leadingZeroBitCount) - 8
        return Double((bits >> drop) << drop)
    }

    static func isPartitionable(_ metric: String, _ peers: [Candidate]) -> Bool {
        if metric.hasPrefix("tag:") { return true }
        return peers.contains { p in p.metrics[metric].map { Double($0) == nil } ?? false }
    }
}

/// The last tie-break: rendezvous hashing of the CID over the peers (highest score first), or
/// peer ID order when there is no CID.
struct RendezvousTiebreak {
    let scores: [PeerID: [UInt8]]

    init(cid: CID?, peers: [PeerID]) {
        guard let cid else {
            scores = [:]
            return
        }
        let key = cid.bytes
        scores = Dictionary(peers.map { ($0, Multihash.sha256(key + $0.multihash.bytes).digest) }, uniquingKeysWith: { a, _ in a })
    }

    func before(_ a: PeerID, _ b: PeerID) -> Bool {
        if let x = scores[a], let y = scores[b], x != y { return y.lexicographicallyPrecedes(x) }
        return a < b
    }
}
