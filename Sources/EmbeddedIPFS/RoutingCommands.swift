import Foundation
import Hummingbird
import Multiformats

/// `routing/findprovs` and `routing/provide` (and kubo's older `dht/findprovs`, `dht/provide`)
/// over the node's DHT (`Specs/dht.md`), in kubo's shapes: findprovs streams one
/// `routing.QueryEvent` of `Type` 4 (Provider) per provider found,
/// `{"Extra":"","ID":"","Responses":[{"Addrs":[…],"ID":"…"}],"Type":4}`; provide answers
/// nothing on success and kubo's "failed to find any peer in table" when no DHT peer took it.
extension KuboRPCServer {
    func findProviders(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("key")
        let swarm = try onlineSwarm()
        let count = try c.int("num-providers", "n", default: 20) ?? 20
        guard count > 0 else { throw KuboError.client("number of providers must be greater than 0") }
        guard let cid = try? CID(c.args[0]) else { throw KuboError.client("invalid cid: \(c.args[0])") }
        let found: [(peer: PeerID, addresses: [Multiaddr])]
        do {
            found = try await swarm.findProviders(cid, count: count)
        } catch let off as RoutingOff {
            throw KuboError.normal(off.description)
        }
        let lines = found.prefix(count).map { p in
            "{\"Extra\":\"\",\"ID\":\"\",\"Responses\":[{\"Addrs\":\(JSONText.strings(p.addresses.map(\.description))),\"ID\":\"\(p.peer)\"}],\"Type\":4}"
        }
        return Self.stream { out in for l in lines { try await out.line(l) } }
    }

    func provide(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("key")
        let swarm = try onlineSwarm()
        guard try !c.bool("recursive", "r", default: false) else {
            throw KuboError.client("--recursive is not supported by the embedded node: provide each CID")
        }
        var cids: [CID] = []
        for a in c.args {
            guard let cid = try? CID(a) else { throw KuboError.client("invalid cid: \(a)") }
            guard repo.localBlock(cid) != nil else { throw KuboError.normal("block \(cid) not found locally, cannot provide") }
            cids.append(cid)
        }
        for cid in cids {
            let took: Int
            do {
                took = try await swarm.provide(cid)
            } catch let off as RoutingOff {
                throw KuboError.normal(off.description)
            }
            guard took > 0 else { throw KuboError.normal("failed to find any peer in table") }
        }
        return Self.stream { _ in }
    }
}
