import ClusterClient
import ClusterModel
import ClusterTestKit
import Foundation
import Testing

/// `GET /id` carries every field of ipfs-cluster's `api.ID`, with PinMesh's values.
@Suite(.serialized) struct IDRouteTests {
    @Test("GET /id has cluster_peers_addresses (the other peers', dialable), commit and rpc_protocol_version")
    func idHasIpfsClusterFields() async throws {
        let s = try await RESTAPITests.serve()
        defer { Task { await RESTAPITests.stop(s) } }
        let c = s.cluster
        #expect(await LocalCluster.eventually { await c[0].peer.monitor.peers().count == 2 })
        let other = c[1].id.description
        #expect(await LocalCluster.eventually { await !c[0].peer.connections.peerstore.addresses(of: c[1].id).isEmpty })
        let bytes = try await s.client.call(.GET, "/id")
        let id = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        for key in ["id", "addresses", "cluster_peers", "cluster_peers_addresses", "version", "commit", "rpc_protocol_version", "error", "ipfs", "peername"] {
            #expect(id[key] != nil, "\(key) missing from \(id)")
        }
        #expect(id["id"] as? String == c[0].id.description && id["peername"] as? String == "peer0")
        let addresses = try #require(id["cluster_peers_addresses"] as? [String])
        #expect(!addresses.isEmpty && addresses.allSatisfy { $0.hasSuffix("/p2p/\(other)") && $0.hasPrefix("/ip4/127.0.0.1/tcp/") }, "\(addresses)")
        #expect(!addresses.contains { $0.contains(c[0].id.description) }, "this peer's own addresses are `addresses`, not cluster peers'")
        #expect(id["commit"] as? String == "")
        let rpc = try #require(id["rpc_protocol_version"] as? String)
        // The handshake's Noise prologue: peers that differ in it cannot connect.
        let spec = try String(contentsOf: Vectors.repositoryRoot.appendingPathComponent("Specs/transport.md"), encoding: .utf8)
        #expect(rpc == "pinmesh/1" && spec.contains("prologue `\(rpc)`"), "\(rpc)")
        #expect(id["version"] as? String == PinMeshVersion.string && (id["cluster_peers"] as? [String])?.count == 2)
        // ClusterClient's typed call of /version.
        #expect(try await s.client.version() == PinMeshVersion.string)
    }
}
