import ClusterModel
import Foundation
public import Sodium
public import Multiformats

extension RepoConfig {
    /// kubo's `Peering` section.
    public struct PeeringSection: Codable, Sendable, Equatable {
        public var Peers: [PeeringPeer]?
        public init(Peers: [PeeringPeer]?) { self.Peers = Peers }
    }

    /// One always-on peer: its ID and the addresses to dial it at.
    public struct PeeringPeer: Codable, Sendable, Equatable {
        public var ID: String
        public var Addrs: [String]?
        public init(ID: String, Addrs: [String]?) {
            self.ID = ID
            self.Addrs = Addrs
        }
    }

    /// kubo's `Swarm` section (the part the embedded node acts on).
    public struct SwarmSection: Codable, Sendable, Equatable {
        public var ConnMgr: ConnMgrSection?
        public init(ConnMgr: ConnMgrSection?) { self.ConnMgr = ConnMgr }
    }

    /// kubo's `Swarm.ConnMgr`: above `HighWater` connections, the oldest past their
    /// `GracePeriod` are closed down to `LowWater` (peering peers never).
    public struct ConnMgrSection: Codable, Sendable, Equatable {
        public var LowWater: Int?
        public var HighWater: Int?
        public var GracePeriod: String?
        public init(LowWater: Int?, HighWater: Int?, GracePeriod: String?) {
            self.LowWater = LowWater
            self.HighWater = HighWater
            self.GracePeriod = GracePeriod
        }
    }

    /// What the swarm settings say, checked: the listen and announce addresses, the peering
    /// peers with their addresses, the bootstrap addresses and the connection limits.
    public struct SwarmPlan: Sendable {
        public var listen: [Multiaddr]
        public var announce: [Multiaddr]
        public var peering: [(peer: PeerID, addresses: [Multiaddr])]
        public var bootstrap: [Multiaddr]
        public var lowWater: Int
        public var highWater: Int
        public var gracePeriod: Duration
    }

    /// The swarm settings, each checked; a repository written before the embedded node spoke
    /// libp2p (no `Addresses.Swarm`) gets ``defaultSwarm``.
    public func swarmPlan() throws(ConfigError) -> SwarmPlan {
        func addrs(_ list: [String], _ key: String) throws(ConfigError) -> [Multiaddr] {
            var out: [Multiaddr] = []
            for text in list {
                guard let a = try? Multiaddr(text) else {
                    throw ConfigError(description: "\(key): \(text.debugDescription) is not a multiaddr; write it as /ip4/0.0.0.0/tcp/4091")
                }
                out.append(a)
            }
            return out
        }
        let listen = try addrs(Addresses.Swarm ?? Self.defaultSwarm, "Addresses.Swarm")
        let announce = try addrs(Addresses.Announce ?? [], "Addresses.Announce")
        var peering: [(peer: PeerID, addresses: [Multiaddr])] = []
        for p in Peering?.Peers ?? [] {
            guard let id = try? PeerID(p.ID) else {
                throw ConfigError(description: "Peering.Peers: \(p.ID.debugDescription) is not a peer ID (12D3KooW… or Qm…)")
            }
            peering.append((id, try addrs(p.Addrs ?? [], "Peering.Peers[\(p.ID)].Addrs")))
        }
        let bootstrap = try addrs(Bootstrap ?? [], "Bootstrap")
        for b in bootstrap where b.peerID == nil {
            throw ConfigError(description: "Bootstrap: \(b) has no /p2p/<peer ID>; kubo's bootstrap addresses name the peer")
        }
        let low = Swarm?.ConnMgr?.LowWater ?? 32
        let high = Swarm?.ConnMgr?.HighWater ?? 96
        guard low >= 0, high >= low, high > 0 else {
            throw ConfigError(description: "Swarm.ConnMgr: LowWater \(low) and HighWater \(high) must satisfy 0 <= LowWater <= HighWater, HighWater > 0")
        }
        let graceText = Swarm?.ConnMgr?.GracePeriod ?? "20s"
        guard let grace = GoDuration.parse(graceText) else {
            throw ConfigError(description: "Swarm.ConnMgr.GracePeriod: \(graceText.debugDescription) is not a duration like 20s")
        }
        return SwarmPlan(listen: listen, announce: announce, peering: peering, bootstrap: bootstrap, lowWater: low, highWater: high, gracePeriod: grace)
    }
}

extension RepoConfig {
    /// The node's libp2p identity: `Identity.PrivKey`, the base64 protobuf private key kubo
    /// writes (`Type` 1 Ed25519, `Data` the 32-byte seed followed by the public key), checked
    /// against `Identity.PeerID`.
    public func identityKey() throws(ConfigError) -> Ed25519.PrivateKey {
        guard let raw = Data(base64Encoded: Identity.PrivKey).map([UInt8].init), raw.count == 68, raw[0...3] == [0x08, 0x01, 0x12, 0x40] else {
            throw ConfigError(description: "Identity.PrivKey is not an Ed25519 private key in kubo's form (base64 protobuf); the embedded node supports Ed25519 identities only")
        }
        guard let key = try? Ed25519.PrivateKey(seed: Array(raw[4..<36])), key.publicKey.bytes == Array(raw[36...]),
            (try? PeerID(ed25519PublicKey: key.publicKey.bytes))?.description == Identity.PeerID
        else {
            throw ConfigError(description: "Identity.PrivKey does not match Identity.PeerID \(Identity.PeerID); the config's identity is damaged")
        }
        return key
    }
}
