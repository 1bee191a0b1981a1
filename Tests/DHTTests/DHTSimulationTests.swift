import ClusterModel
import ClusterTestKit
import Multiformats
import Testing
@testable import DHT

/// The pure parts driven together on ClusterTestKit's ``DHTSimulation``: a simulated network
/// of peers, each with its own routing table and provider store.
@Suite struct DHTSimulationTests {
    /// Each peer meets a random half of the others.
    static func network(_ peers: Int, seed: UInt64) -> DHTSimulation { DHTSimulation(peers: peers, seed: seed, known: 0.5) }
    static func peers(_ n: Int, seed: UInt64) -> [PeerID] { DHTSimulation(peers: n, seed: seed, known: 0).ids }

    @Test func findNodeConvergesOnTheTrueClosestPeers() {
        var net = Self.network(300, seed: 7)
        let ids = net.ids
        for i in 0..<10 {
            let target = ids[(i * 37) % ids.count].bytes + [UInt8(i)]
            let l = net.lookup(from: ids[i], DHTMessage(type: .findNode, key: target), goal: .closestPeers).0
            let key = DHTKey(hashing: target)
            let truth = ids.filter { $0 != ids[i] }.sorted { key.isCloser(DHTKey(peer: $0), than: DHTKey(peer: $1)) }.prefix(20)
            let found = l.closestAnswered().map(\.0)
            // The lookup finds at least 18 of the 20 truly closest (exact in practice).
            #expect(Set(found).intersection(truth).count >= 18, "lookup \(i): \(Set(found).intersection(truth).count) of 20")
        }
    }

    @Test func aProviderAnnouncedToTheClosestIsFoundFromAnywhere() {
        var net = Self.network(200, seed: 11)
        let ids = net.ids
        let content = Multihash.sha256(Array("pinned by peer 0".utf8)).bytes
        let closest = net.lookup(from: ids[0], DHTMessage(type: .findNode, key: content), goal: .closestPeers).0.closestAnswered()
        #expect(closest.count == 20)
        let add = DHTMessage(type: .addProvider, key: content, providerPeers: [.init(id: ids[0], addresses: [try! Multiaddr("/ip4/10.0.0.1/tcp/4001")])])
        for (p, _) in closest { #expect(net.ask(p, add, from: ids[0]) == nil) }
        // A third of the network is down; the provider is still found from other peers.
        for id in ids[100..<166] where id != ids[0] { net.down.insert(id) }
        for from in [ids[50], ids[199], ids[42]] {
            let l = net.lookup(from: from, DHTMessage(type: .getProviders, key: content), goal: .providers(enough: 1)).0
            #expect(l.providers.map(\.id) == [ids[0]], "from \(from)")
            #expect(l.queriesSent <= 60)
        }
        // A peer cannot announce another: the record names the sender or is dropped.
        let forged = DHTMessage(type: .addProvider, key: content, providerPeers: [.init(id: ids[1], addresses: [try! Multiaddr("/ip4/10.0.0.2/tcp/1")])])
        _ = net.ask(ids[3], forged, from: ids[2])
        #expect(net.stores[ids[3]]!.providers(of: content, now: .zero).allSatisfy { $0.peer != ids[1] })
    }

    @Test func providerRecordsExpireAndStayBounded() throws {
        let ids = Self.peers(80, seed: 3)
        var store = DHTProviderStore(maxRecords: 10, maxProvidersPerKey: 4)
        let key = Multihash.sha256([1]).bytes
        let many = try (1...20).map { try Multiaddr("/ip4/10.0.0.\($0)/tcp/4001") }
        for p in ids.prefix(6) { store.add(key: key, peer: p, addresses: many, now: .zero) }
        // At most 4 providers a key, 8 addresses a record.
        #expect(store.providers(of: key, now: .zero).count == 4)
        #expect(store.providers(of: key, now: .zero).allSatisfy { $0.addresses.count == DHTProviderStore.maxAddresses })
        #expect(store.providers(of: key, now: DHTProviderStore.validity - .seconds(1)).count == 4)
        #expect(store.providers(of: key, now: DHTProviderStore.validity).isEmpty)
        // A flood of new keys never takes the store past its records.
        for i in 0..<50 { store.add(key: Multihash.sha256([UInt8(i), 9]).bytes, peer: ids[i], addresses: [], now: .seconds(Int64(i))) }
        // (Which key a full store drops is any one: 10 records, 4 at most a key, so 3 to 10 keys.)
        #expect(store.recordCount == 10 && (3...10).contains(store.keyCount))
        // A refreshed record is not a new one.
        let last = Multihash.sha256([49, 9]).bytes
        store.add(key: last, peer: ids[49], addresses: [], now: .seconds(100))
        #expect(store.recordCount == 10)
        store.expire(now: .seconds(1_000_000))
        #expect(store.keyCount == 0 && store.recordCount == 0)
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
