import ClusterModel
import Multiformats
import Node

extension RESTAPIServer {
    /// What peers must share to talk to each other: the transport handshake's Noise prologue
    /// (`Specs/transport.md`), which plays the part of ipfs-cluster's `/ipfscluster/1.0/rpc`.
    static let rpcProtocolVersion = "pinmesh/1"

    /// ipfs-cluster's `api.ID` (`GET /id`): the peer's `ClusterPeer.ID` and
    /// `cluster_peers_addresses` (every other cluster peer's known addresses, each ending in
    /// `/p2p/<id>`; peers with none left out, as ipfs-cluster), `commit` (empty: builds do not
    /// record their commit) and `rpc_protocol_version`.
    struct Identity: Encodable {
        var id: ClusterPeer.ID
        var clusterPeersAddresses: [String]
        var commit = ""
        var rpcProtocolVersion = RESTAPIServer.rpcProtocolVersion

        enum CodingKeys: String, CodingKey {
            case clusterPeersAddresses = "cluster_peers_addresses", commit, rpcProtocolVersion = "rpc_protocol_version"
        }

        func encode(to encoder: any Encoder) throws {
            try id.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(clusterPeersAddresses, forKey: .clusterPeersAddresses)
            try c.encode(commit, forKey: .commit)
            try c.encode(rpcProtocolVersion, forKey: .rpcProtocolVersion)
        }
    }

    static func identity(_ peer: ClusterPeer) async -> Identity {
        let id = await peer.id()
        let peerstore = await peer.connections.peerstore
        var addresses: [String] = []
        for text in id.clusterPeers where text != id.id {
            guard let p = try? PeerID(text) else { continue }
            addresses += peerstore.addresses(of: p).map(\.description)
        }
        return Identity(id: id, clusterPeersAddresses: addresses)
    }
}
