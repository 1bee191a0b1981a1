public import Multiformats

/// The embedded node's connections to other IPFS nodes, as its RPC API (`swarm/*`, `id`) shows
/// them. The libp2p host provides it (`Node`'s `EmbeddedNode`); without one the node is offline
/// and `swarm/connect` says so.
public protocol IPFSSwarm: Sendable {
    /// The addresses other nodes can dial, each ending in `/p2p/<this node's ID>`.
    var addresses: [Multiaddr] { get }
    /// The protocols this node answers (`/ipfs/bitswap/1.2.0`, `/ipfs/id/1.0.0`, …).
    var protocols: [String] { get }
    var agentVersion: String { get }
    /// Dials `address` (`…/p2p/<ID>`); returns the peer once connected. Throws with a message in
    /// kubo's words when it cannot ("failure: dial …").
    func connect(_ address: Multiaddr) async throws -> PeerID
    func disconnect(_ peer: PeerID) async throws
    /// The connected peers: each one's ID, the address of the connection, and its direction.
    func peers() -> [IPFSSwarmPeer]
    /// Peers that provide `cid` according to the DHT (at most `count`), with their addresses.
    func findProviders(_ cid: CID, count: Int) async throws -> [(peer: PeerID, addresses: [Multiaddr])]
    /// Announces this node as a provider of `cid`; how many DHT peers took the record.
    func provide(_ cid: CID) async throws -> Int
}

/// The routing the swarm does not have: kubo's words for a node without a DHT.
public struct RoutingOff: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "routing system is disabled (Routing.Type is none): set it to auto, dht or dhtclient in the node's config" }
}

extension IPFSSwarm {
    public func findProviders(_ cid: CID, count: Int) async throws -> [(peer: PeerID, addresses: [Multiaddr])] { throw RoutingOff() }
    public func provide(_ cid: CID) async throws -> Int { throw RoutingOff() }
}

/// One connection, as `swarm/peers` lists it.
public struct IPFSSwarmPeer: Sendable, Equatable {
    public let peer: PeerID
    public let address: Multiaddr
    public let inbound: Bool
    public init(peer: PeerID, address: Multiaddr, inbound: Bool) {
        self.peer = peer
        self.address = address
        self.inbound = inbound
    }
}
