import Foundation
import Hummingbird
import Multiformats

/// `swarm/*`: the node's connections to other IPFS nodes, as kubo answers them.
extension KuboRPCServer {
    /// The swarm, or kubo's error for a node that is not online.
    func onlineSwarm() throws -> any IPFSSwarm {
        guard let swarm else {
            throw KuboError.normal("this action must be run in online mode, try running 'ipfs daemon' first (this embedded node has no libp2p host)")
        }
        return swarm
    }

    func swarmConnect(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("address")
        let swarm = try onlineSwarm()
        var out: [String] = []
        for a in c.args {
            guard let ma = try? Multiaddr(a) else { throw KuboError.client("invalid peer address: \(a)") }
            guard let expected = ma.peerID else { throw KuboError.client("invalid peer address: \(a): no /p2p/<peer ID> at the end") }
            do {
                _ = try await swarm.connect(ma)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw KuboError.normal("connect \(expected) failure: \(error)")
            }
            out.append("connect \(expected) success")
        }
        return Self.json("{\"Strings\":\(JSONText.strings(out))}")
    }

    func swarmDisconnect(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("address")
        let swarm = try onlineSwarm()
        var out: [String] = []
        for a in c.args {
            guard let ma = try? Multiaddr(a), let peer = ma.peerID else { throw KuboError.client("invalid peer address: \(a)") }
            guard swarm.peers().contains(where: { $0.peer == peer }) else {
                throw KuboError.normal("disconnect \(peer) failure: not connected to the given peer")
            }
            try await swarm.disconnect(peer)
            out.append("disconnect \(peer) success")
        }
        return Self.json("{\"Strings\":\(JSONText.strings(out))}")
    }

    /// `swarm/peers`: `{"Peers":[{"Addr":…,"Peer":…,"Direction":1|2}]}` (kubo's inbound 1,
    /// outbound 2), sorted by peer ID; `Peers` is null when there are none, as in kubo.
    func swarmPeers(_ c: RPCCall) throws -> Response {
        let swarm = try onlineSwarm()
        let direction = try c.bool("direction", default: false)
        let peers = swarm.peers().sorted { $0.peer < $1.peer }
        guard !peers.isEmpty else { return Self.json("{\"Peers\":null}") }
        let items = peers.map { p in
            "{\"Addr\":\(JSONText.string(p.address.description)),\"Peer\":\"\(p.peer)\",\"Latency\":\"\",\"Muxer\":\"\",\"Streams\":null"
                + (direction ? ",\"Direction\":\(p.inbound ? 1 : 2)" : "") + "}"
        }
        return Self.json("{\"Peers\":[\(items.joined(separator: ","))]}")
    }

    /// `swarm/addrs/listen`: the listen addresses, without `/p2p/`.
    func swarmListen() -> Response {
        let addrs = (swarm?.addresses ?? []).map { Self.withoutPeer($0).description }
        return Self.json("{\"Strings\":\(JSONText.strings(addrs))}")
    }

    /// `swarm/addrs/local`: the same, with `/p2p/<ID>` when `id=true`.
    func swarmLocal(_ c: RPCCall) throws -> Response {
        let withID = try c.bool("id", default: false)
        let addrs = (swarm?.addresses ?? []).map { withID ? $0.description : Self.withoutPeer($0).description }
        return Self.json("{\"Strings\":\(JSONText.strings(addrs))}")
    }

    static func withoutPeer(_ a: Multiaddr) -> Multiaddr {
        (try? Multiaddr(components: a.components.filter { if case .p2p = $0 { return false } else { return true } })) ?? a
    }
}
