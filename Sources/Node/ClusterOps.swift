import ClusterModel
import Foundation
public import Multiformats
import Transport

/// One peer's garbage collection, as ipfs-cluster's `IPFSRepoGC` (`keys` lists at most
/// ``ClusterPeer/gcKeysListed`` of the removed blocks; `removed` counts them all: PinMesh's).
public struct RepoGCResult: Codable, Sendable, Equatable {
    public struct Key: Codable, Sendable, Equatable {
        public var key: String
        public var error: String?
    }
    public var peer: String
    public var peername: String
    public var keys: [Key]
    public var removed: Int
    public var error: String?
}

/// Every peer's garbage collection (`POST /ipfs/gc`), as ipfs-cluster's `GlobalRepoGC`.
public struct GlobalRepoGC: Codable, Sendable, Equatable {
    public var peerMap: [String: RepoGCResult]
    enum CodingKeys: String, CodingKey { case peerMap = "peer_map" }
}

/// Who is connected to whom (`GET /health/graph`), as ipfs-cluster's `ConnectGraph`.
/// PinMesh peers link to the cluster peers they hold a connection with; `ipfs_links` is
/// empty (the embedded node has no swarm; a kubo daemon's swarm is not asked).
public struct ConnectGraph: Codable, Sendable, Equatable {
    public var clusterID: String
    public var idToPeername: [String: String]
    public var ipfsLinks: [String: [String]]
    public var clusterLinks: [String: [String]]
    public var clusterTrustLinks: [String: Bool]
    public var clusterToIPFS: [String: String]
    enum CodingKeys: String, CodingKey {
        case clusterID = "cluster_id", idToPeername = "id_to_peername", ipfsLinks = "ipfs_links", clusterLinks = "cluster_links"
        case clusterTrustLinks = "cluster_trust_links", clusterToIPFS = "cluster_to_ipfs"
    }
}

/// One protocol's traffic (`GET /health/bandwidth`), as libp2p's `metrics.Stats` that
/// ipfs-cluster answers: totals in bytes, rates in bytes per second over the last second.
public struct BandwidthStats: Codable, Sendable, Equatable {
    public var totalIn: UInt64
    public var totalOut: UInt64
    public var rateIn: Double
    public var rateOut: Double
    enum CodingKeys: String, CodingKey { case totalIn = "TotalIn", totalOut = "TotalOut", rateIn = "RateIn", rateOut = "RateOut" }
}

/// The last traffic sample and the rates derived from it.
struct TrafficSample {
    var at: ContinuousClock.Instant
    var totals: TrafficTotals
    var rates = Rates()
    struct Rates {
        var tcpIn = 0.0, tcpOut = 0.0, udpIn = 0.0, udpOut = 0.0
    }
}

extension ClusterPeer {
    public static let gcMethod = "ipfs/gc"
    public static let linksMethod = "cluster/links"
    /// Removed keys listed per peer: 500 keep one answer within one RPC record.
    public static let gcKeysListed = 500

    /// What `cluster/links` answers: the peers this one holds a connection with, and its
    /// IPFS daemon's ID.
    struct Links: Codable {
        var peers: [String]
        var ipfs: String?
    }

    func registerOperations(on server: RPCServer) {
        server.register(Self.gcMethod) { [weak self] _, _ in
            guard let self else { throw ClusterError(.unavailable, "the peer is stopping") }
            return try JSONEncoder().encode(await self.localGC()).bytes
        }
        server.register(Self.linksMethod) { [weak self] _, _ in
            guard let self else { throw ClusterError(.unavailable, "the peer is stopping") }
            return try JSONEncoder().encode(await self.links()).bytes
        }
        registerRepoStat(on: server)
    }

    func links() async -> Links {
        Links(peers: transport.connectedPeers.map(\.description).sorted(), ipfs: try? await connector.id().id)
    }

    /// Garbage collection on this peer's IPFS daemon.
    public func localGC() async -> RepoGCResult {
        do {
            let r = try await connector.repoGC(keepKeys: Self.gcKeysListed)
            return RepoGCResult(
                peer: me.description, peername: settings.peername, keys: r.keys.map { .init(key: $0.description) }, removed: r.removed)
        } catch {
            return RepoGCResult(peer: me.description, peername: settings.peername, keys: [], removed: 0, error: "\(error)")
        }
    }

    /// Garbage collection on every live peer's IPFS daemon at once (`local`: this one only);
    /// a peer that fails or does not answer within 10 minutes is listed with the error.
    public func gc(local: Bool = false) async -> GlobalRepoGC {
        var out = GlobalRepoGC(peerMap: [me.description: await localGC()])
        guard !local else { return out }
        let names = await peerNames()
        let others = await monitor.peers().filter { $0 != me }
        let results = await withTaskGroup(of: RepoGCResult.self) { g in
            for p in others {
                g.addTask { [transport] in
                    do {
                        guard let c = transport.connection(to: p) else { throw ClusterError(.unavailable, "not connected") }
                        return try JSONDecoder().decode(RepoGCResult.self, from: Data(try await c.call(Self.gcMethod, [], timeout: .seconds(600))))
                    } catch {
                        return RepoGCResult(peer: p.description, peername: names[p] ?? "", keys: [], removed: 0, error: "\(error)")
                    }
                }
            }
            var all: [RepoGCResult] = []
            for await r in g { all.append(r) }
            return all
        }
        for r in results { out.peerMap[r.peer] = r }
        return out
    }

    /// The connection graph of the live peers, each asked over `cluster/links` in parallel (a
    /// peer that does not answer has no links listed).
    public func graph() async -> ConnectGraph {
        let names = await peerNames()
        let peers = Array(Set(await monitor.peers()).union([me])).sorted()
        let timeout = settings.statusTimeout
        let mine = await links()
        let answers = await withTaskGroup(of: (PeerID, Links?).self) { g in
            for p in peers where p != me {
                g.addTask { [transport] in
                    guard let c = transport.connection(to: p), let bytes = try? await c.call(Self.linksMethod, [], timeout: timeout) else { return (p, nil) }
                    return (p, try? JSONDecoder().decode(Links.self, from: Data(bytes)))
                }
            }
            var all: [PeerID: Links] = [me: mine]
            for await (p, l) in g { if let l { all[p] = l } }
            return all
        }
        var graph = ConnectGraph(
            clusterID: me.description, idToPeername: [:], ipfsLinks: [:], clusterLinks: [:], clusterTrustLinks: [:], clusterToIPFS: [:])
        for p in peers {
            let id = p.description
            graph.idToPeername[id] = names[p] ?? ""
            graph.clusterTrustLinks[id] = settings.trust.trusts(p)
            graph.clusterLinks[id] = answers[p]?.peers ?? []
            if let ipfs = answers[p]?.ipfs {
                graph.clusterToIPFS[id] = ipfs
                graph.ipfsLinks[ipfs] = []
            }
        }
        return graph
    }

    /// Takes a traffic sample (every second): rates are the bytes since the last one.
    func sampleTraffic() {
        let now = ContinuousClock.now
        let totals = transport.trafficTotals
        guard let last = traffic else {
            traffic = TrafficSample(at: now, totals: totals)
            return
        }
        let (s, atto) = (now - last.at).components
        let seconds = max(Double(s) + Double(atto) / 1e18, 0.001)
        func rate(_ a: UInt64, _ b: UInt64) -> Double { Double(a &- b) / seconds }
        traffic = TrafficSample(
            at: now, totals: totals,
            rates: .init(
                tcpIn: rate(totals.tcpIn, last.totals.tcpIn), tcpOut: rate(totals.tcpOut, last.totals.tcpOut),
                udpIn: rate(totals.udpIn, last.totals.udpIn), udpOut: rate(totals.udpOut, last.totals.udpOut)))
    }

    /// This peer's traffic by protocol: `/pinmesh/tcp` (connections: RPC, pubsub) and
    /// `/pinmesh/udp` (datagrams), sealed bytes as on the wire.
    public func bandwidth() -> [String: BandwidthStats] {
        let t = transport.trafficTotals
        let r = traffic?.rates ?? TrafficSample.Rates()
        return [
            "/pinmesh/tcp": BandwidthStats(totalIn: t.tcpIn, totalOut: t.tcpOut, rateIn: r.tcpIn, rateOut: r.tcpOut),
            "/pinmesh/udp": BandwidthStats(totalIn: t.udpIn, totalOut: t.udpOut, rateIn: r.udpIn, rateOut: r.udpOut),
        ]
    }

    /// Removes `peer` from this peer's view of the cluster: its address, connection and
    /// metrics are forgotten, so it leaves the peerset at once and no allocation goes to it;
    /// its pins move at the next check (unless repinning is disabled).
    /// A live peer that dials back returns with its next ping; to exclude one for good, take it
    /// out of `trusted_peers` (its pins are then refused) and change the cluster secret.
    public func removePeer(_ peer: PeerID) async throws {
        guard peer != me else {
            throw ClusterError(.badRequest, "\(peer) is this peer: stop it (pinmesh daemon) instead of removing it")
        }
        let alive = await monitor.isAlive(peer)
        let known = await !connections.peerstore.addresses(of: peer).isEmpty
        guard alive || known || transport.connection(to: peer) != nil else {
            throw ClusterError(.notFound, "\(peer) is not a peer of this cluster as this peer knows it")
        }
        await connections.forget(peer)
        await monitor.forget(peer)
        removedFromPeerset(peer)
        logger.info("removed a peer", metadata: ["peer": "\(peer)"])
    }
}
