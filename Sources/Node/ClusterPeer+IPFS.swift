public import EmbeddedIPFS
import Foundation
public import Multiformats

/// What peers publish in their `ping` metric's value (compact JSON).
public struct PingValue: Codable, Sendable, Equatable {
    public var peername: String
    public var ipfsID: String?
    /// The IPFS daemon's swarm addresses (at most ``maxAddresses``), which the other peers'
    /// daemons connect to after `connect_swarms_delay`.
    public var ipfsAddresses: [String]?
    public static let maxAddresses = 4
    enum CodingKeys: String, CodingKey { case peername, ipfsID = "ipfs_id", ipfsAddresses = "ipfs_addresses" }
    public init(peername: String, ipfsID: String?, ipfsAddresses: [String]? = nil) {
        self.peername = peername
        self.ipfsID = ipfsID
        self.ipfsAddresses = ipfsAddresses
    }
}

/// The IPFS daemon as the other peers see it: its ID and swarm addresses in the ping, and its
/// connections to the other peers' daemons (ipfs-cluster's `connect_swarms_delay`).
extension ClusterPeer {
    /// Connects this peer's IPFS daemon to every other live peer's, at the first of the
    /// addresses its ping carries that answers.
    func connectSwarms() async {
        for metric in await monitor.metrics("ping") where metric.peer != me {
            guard let value = try? JSONDecoder().decode(PingValue.self, from: Data(metric.value.utf8)) else { continue }
            for address in value.ipfsAddresses ?? [] {
                do {
                    try await connector.swarmConnect(address)
                    logger.debug("IPFS daemon connected to a peer's", metadata: ["peer": "\(metric.peer)", "address": "\(address)"])
                    break
                } catch {
                    logger.debug("IPFS daemon could not connect to a peer's", metadata: ["peer": "\(metric.peer)", "address": "\(address)", "error": "\(error)"])
                }
            }
        }
    }

    func learnIPFSID() async {
        guard !ipfsIDKnown, let id = try? await connector.id() else { return }
        ipfsIDKnown = true
        // Addresses other hosts can reach first: a loopback address reaches a peer only on this host.
        let loopback = { (a: String) in a.hasPrefix("/ip4/127.") || a.hasPrefix("/ip6/::1/") }
        let addresses = Array((id.addresses.filter { !loopback($0) } + id.addresses.filter(loopback)).prefix(PingValue.maxAddresses))
        await tracker.setIPFSID(id.id, addresses: addresses)
        let value = PingValue(peername: settings.peername, ipfsID: id.id, ipfsAddresses: addresses.isEmpty ? nil : addresses)
        if let json = try? JSONEncoder().encode(value) { await monitor.setPingValue(String(decoding: json, as: UTF8.self)) }
    }
}

extension ClusterPeer {
    /// The cluster's providers of `cid` for a Routing V1 answer (`Specs/delegated-routing.md`):
    /// the IPFS daemons of its allocated peers (of every live peer for a pin everywhere) that
    /// have a live ping, with the IPFS ID and swarm addresses the ping carries. Peers are not
    /// asked whether they finished pinning: an allocated daemon is where the content is going.
    public func routingProviders(of cid: CID) async -> [RoutingProvider] {
        guard let pin = try? database.pin(cid), pin.type != .meta else { return [] }
        let allocated = Set(pin.allocations)
        var out: [RoutingProvider] = []
        for metric in await monitor.metrics("ping") where allocated.isEmpty || allocated.contains(metric.peer) {
            guard let value = try? JSONDecoder().decode(PingValue.self, from: Data(metric.value.utf8)),
                let text = value.ipfsID, let id = try? PeerID(text)
            else { continue }
            let addrs = (value.ipfsAddresses ?? []).compactMap { try? Multiaddr($0) }
            guard !addrs.isEmpty else { continue }
            out.append(RoutingProvider(id: id, multiaddrs: addrs))
        }
        return out.sorted { $0.id < $1.id }
    }
}

extension EmbeddedNode {
    /// Answers Routing V1 lookups with the cluster's allocations too (``ClusterPeer/routingProviders(of:)``).
    public func useAllocations(of peer: ClusterPeer) {
        setExtraProviders { [weak peer] cid in await peer?.routingProviders(of: cid) ?? [] }
    }
}
