public import DHT
public import Multiformats
import ClusterModel

/// The DHT's pure parts on a simulated network: every peer's routing table and provider
/// store, a request is a call of ``DHTServer/respond``, and a lookup advances in rounds (one
/// round: the requests in flight are answered together, as round trips of equal length).
/// Seeded: the same seed builds the same peers and tables.
public struct DHTSimulation: Sendable {
    public var tables: [PeerID: DHTRoutingTable] = [:]
    public var stores: [PeerID: DHTProviderStore] = [:]
    public var down: Set<PeerID> = []
    public var now = Duration.zero
    public let ids: [PeerID]

    /// `peers` peers with random Ed25519-shaped IDs; each table takes every other peer in a
    /// random order (buckets keep the first `k`), as tables fill from a network's traffic; with
    /// `known` < 1 each peer meets only that share of the others.
    public init(peers: Int, seed: UInt64, known: Double = 1, k: Int = 20) {
        var rng = SplitMix64(seed: seed)
        ids = (0..<peers).map { _ in
            let key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return try! PeerID(ed25519PublicKey: key)
        }
        let count = max(1, Int(Double(peers) * known))
        for id in ids {
            var t = DHTRoutingTable(local: id, bucketSize: k)
            for other in ids.shuffled(using: &rng).prefix(count) where other != id { t.add(other, addresses: [], now: .zero) }
            tables[id] = t
            stores[id] = DHTProviderStore()
        }
    }

    /// What `peer` answers to `m` from `sender`; nil when it is down or does not answer.
    public mutating func ask(_ peer: PeerID, _ m: DHTMessage, from sender: PeerID) -> DHTMessage? {
        guard !down.contains(peer), let table = tables[peer], let store = stores[peer] else { return nil }
        var c = DHTServer.Context(table: table, store: store, now: now, selfPeer: .init(id: peer, addresses: []))
        let r = DHTServer.respond(to: m, from: sender, context: &c, hasLocally: { _ in false })
        if m.type == .addProvider { stores[peer] = c.store }
        return r
    }

    /// Runs a lookup from `origin`; the lookup and the number of rounds it took.
    public mutating func lookup(from origin: PeerID, _ m: DHTMessage, goal: DHTLookup.Goal, alpha: Int = 3) -> (DHTLookup, rounds: Int) {
        let target = DHTKey(hashing: m.key)
        var l = DHTLookup(
            target: target, goal: goal, local: origin, seeds: tables[origin]!.closest(to: target, count: 20).map { ($0.peer, $0.addresses) },
            alpha: alpha)
        var rounds = 0
        while rounds < 1000 {
            let asks = l.nextQueries()
            if asks.isEmpty { break }
            rounds += 1
            for p in asks {
                if let r = ask(p, m, from: origin) {
                    l.onResponse(from: p, closer: r.closerPeers, providers: r.providerPeers)
                } else {
                    l.onFailure(p)
                }
            }
            if l.isFinished { break }
        }
        return (l, rounds)
    }

    /// `provider` announces `key` to the closest peers it finds (kubo's Provide).
    public mutating func provide(_ key: [UInt8], by provider: PeerID) {
        let closest = lookup(from: provider, DHTMessage(type: .findNode, key: key), goal: .closestPeers).0.closestAnswered()
        let add = DHTMessage(type: .addProvider, key: key, providerPeers: [.init(id: provider, addresses: [try! Multiaddr("/ip4/10.0.0.1/tcp/4001")])])
        for (p, _) in closest { _ = ask(p, add, from: provider) }
    }
}
