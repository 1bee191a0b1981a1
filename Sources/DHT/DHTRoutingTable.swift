public import Multiformats

/// Kademlia's routing table: peers in buckets by the length of the prefix their key shares with
/// this node's (`k` per bucket, 20 as kubo). A full bucket keeps its long-lived peers and drops
/// the newcomer (Kademlia's preference; kubo replaces only peers that failed), a peer that
/// fails a query is removed. Memory: at most 257 × `k` entries.
public struct DHTRoutingTable: Sendable {
    public struct Entry: Sendable, Equatable {
        public let peer: PeerID
        public let key: DHTKey
        public var addresses: [Multiaddr]
        public var lastSeen: Duration
    }

    public let local: DHTKey
    public let bucketSize: Int
    private var buckets: [[Entry]] = Array(repeating: [], count: 257)
    private var index: [PeerID: Int] = [:]

    public init(local: PeerID, bucketSize: Int = 20) {
        self.local = DHTKey(peer: local)
        self.bucketSize = bucketSize
    }

    public var count: Int { index.count }
    public func contains(_ peer: PeerID) -> Bool { index[peer] != nil }
    public var peers: [PeerID] { Array(index.keys) }

    public func addresses(of peer: PeerID) -> [Multiaddr] {
        guard let b = index[peer] else { return [] }
        return buckets[b].first { $0.peer == peer }?.addresses ?? []
    }

    /// Adds or refreshes `peer`; false when its bucket is full (it is not added).
    @discardableResult
    public mutating func add(_ peer: PeerID, addresses: [Multiaddr], now: Duration) -> Bool {
        let key = DHTKey(peer: peer)
        guard key != local else { return false }
        let b = local.commonPrefixLength(with: key)
        if let i = buckets[b].firstIndex(where: { $0.peer == peer }) {
            var e = buckets[b].remove(at: i)
            if !addresses.isEmpty { e.addresses = addresses }
            e.lastSeen = now
            buckets[b].append(e)
            return true
        }
        guard buckets[b].count < bucketSize else { return false }
        buckets[b].append(Entry(peer: peer, key: key, addresses: addresses, lastSeen: now))
        index[peer] = b
        return true
    }

    public mutating func remove(_ peer: PeerID) {
        guard let b = index.removeValue(forKey: peer) else { return }
        buckets[b].removeAll { $0.peer == peer }
    }

    /// The `count` peers closest to `target`, closest first.
    public func closest(to target: DHTKey, count: Int) -> [Entry] {
        let all = buckets.joined()
        return Array(all.sorted { target.isCloser($0.key, than: $1.key) }.prefix(count))
    }
}
