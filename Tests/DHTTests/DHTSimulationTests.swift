import ClusterModel
import Multiformats
import Testing
@testable import DHT

/// The pure parts driven together: a simulated network of peers, each with its own routing
/// table and provider store, where a request is a call of ``DHTServer/respond``.
@Suite struct DHTSimulationTests {
    struct Network {
        var tables: [PeerID: DHTRoutingTable] = [:]
        var stores: [PeerID: DHTProviderStore] = [:]
        var down: Set<PeerID> = []
        var now = Duration.zero

        mutating func ask(_ peer: PeerID, _ m: DHTMessage, from sender: PeerID) -> DHTMessage? {
            guard !down.contains(peer), let table = tables[peer], let store = stores[peer] else { return nil }
            var c = DHTServer.Context(table: table, store: store, now: now, selfPeer: .init(id: peer, addresses: []))
            let r = DHTServer.respond(to: m, from: sender, context: &c, hasLocally: { _ in false })
            stores[peer] = c.store
            return r
        }

        /// Runs a lookup from `origin` with every answer immediate.
        mutating func lookup(from origin: PeerID, _ m: DHTMessage, goal: DHTLookup.Goal) -> DHTLookup {
            let target = DHTKey(hashing: m.key)
            var l = DHTLookup(target: target, goal: goal, local: origin, seeds: tables[origin]!.closest(to: target, count: 20).map { ($0.peer, $0.addresses) })
            var rounds = 0
            while true {
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
                if l.isFinished || rounds > 1000 { break }
            }
            return l
        }
    }

    static func peers(_ n: Int, seed: UInt64) -> [PeerID] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in
            let key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return try! PeerID(ed25519PublicKey: key)
        }
    }

    /// Each peer knows up to 20 peers per bucket out of a random half of the others.
    static func network(_ ids: [PeerID], seed: UInt64) -> Network {
        var rng = SplitMix64(seed: seed)
        var net = Network()
        for id in ids {
            var t = DHTRoutingTable(local: id)
            for other in ids.shuffled(using: &rng).prefix(ids.count / 2) where other != id { t.add(other, addresses: [], now: .zero) }
            net.tables[id] = t
            net.stores[id] = DHTProviderStore()
        }
        return net
    }

    @Test func findNodeConvergesOnTheTrueClosestPeers() {
        let ids = Self.peers(300, seed: 7)
        var net = Self.network(ids, seed: 8)
        for i in 0..<10 {
            let target = ids[(i * 37) % ids.count].bytes + [UInt8(i)]
            let l = net.lookup(from: ids[i], DHTMessage(type: .findNode, key: target), goal: .closestPeers)
            let key = DHTKey(hashing: target)
            let truth = ids.filter { $0 != ids[i] }.sorted { key.isCloser(DHTKey(peer: $0), than: DHTKey(peer: $1)) }.prefix(20)
            let found = l.closestAnswered().map(\.0)
            // The lookup finds at least 18 of the 20 truly closest (exact in practice).
            #expect(Set(found).intersection(truth).count >= 18, "lookup \(i): \(Set(found).intersection(truth).count) of 20")
        }
    }

    @Test func aProviderAnnouncedToTheClosestIsFoundFromAnywhere() {
        let ids = Self.peers(200, seed: 11)
        var net = Self.network(ids, seed: 12)
        let content = Multihash.sha256(Array("pinned by peer 0".utf8)).bytes
        let closest = net.lookup(from: ids[0], DHTMessage(type: .findNode, key: content), goal: .closestPeers).closestAnswered()
        #expect(closest.count == 20)
        let add = DHTMessage(type: .addProvider, key: content, providerPeers: [.init(id: ids[0], addresses: [try! Multiaddr("/ip4/10.0.0.1/tcp/4001")])])
        for (p, _) in closest { #expect(net.ask(p, add, from: ids[0]) == nil) }
        // A third of the network is down; the provider is still found from other peers.
        for id in ids[100..<166] where id != ids[0] { net.down.insert(id) }
        for from in [ids[50], ids[199], ids[42]] {
            let l = net.lookup(from: from, DHTMessage(type: .getProviders, key: content), goal: .providers(enough: 1))
            #expect(l.providers.map(\.id) == [ids[0]], "from \(from)")
            #expect(l.queriesSent <= 60)
        }
        // A peer cannot announce another: the record names the sender or is dropped.
        let forged = DHTMessage(type: .addProvider, key: content, providerPeers: [.init(id: ids[1], addresses: [try! Multiaddr("/ip4/10.0.0.2/tcp/1")])])
        _ = net.ask(ids[3], forged, from: ids[2])
        #expect(net.stores[ids[3]]!.providers(of: content, now: .zero).allSatisfy { $0.peer != ids[1] })
    }

    @Test func providerRecordsExpireAndStayBounded() {
        let ids = Self.peers(80, seed: 3)
        var store = DHTProviderStore(maxKeys: 10, maxProvidersPerKey: 4)
        let key = Multihash.sha256([1]).bytes
        for p in ids.prefix(6) { store.add(key: key, peer: p, addresses: [], now: .zero) }
        #expect(store.providers(of: key, now: .zero).count == 4)
        #expect(store.providers(of: key, now: DHTProviderStore.validity - .seconds(1)).count == 4)
        #expect(store.providers(of: key, now: DHTProviderStore.validity).isEmpty)
        for i in 0..<50 { store.add(key: Multihash.sha256([UInt8(i), 9]).bytes, peer: ids[i], addresses: [], now: .seconds(Int64(i))) }
        #expect(store.keyCount == 10)
        // A flood of new keys never grows the store past its bound.
        store.expire(now: .seconds(1_000_000))
        #expect(store.keyCount == 0)
    }

    @Test func routingTableBucketsHoldAtMostK() {
        let me = Self.peers(1, seed: 99)[0]
        var t = DHTRoutingTable(local: me, bucketSize: 4)
        let others = Self.peers(400, seed: 100)
        for o in others { t.add(o, addresses: [], now: .zero) }
        // Half the peers share no leading bit with this one: that bucket holds only 4.
        #expect(t.count < 400 && t.count >= 4)
        let key = DHTKey(peer: others[0])
        let near = t.closest(to: key, count: 10)
        #expect(near.count == min(10, t.count))
        for (x, y) in zip(near, near.dropFirst()) { #expect(!key.isCloser(y.key, than: x.key)) }
        let addedSelf = t.add(me, addresses: [], now: .zero)
        #expect(!addedSelf)
        t.remove(near[0].peer)
        #expect(!t.contains(near[0].peer))
    }
}
