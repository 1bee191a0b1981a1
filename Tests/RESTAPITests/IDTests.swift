import ClusterClient
import ClusterModel
import ClusterTestKit
import Foundation
import Logging
import RESTAPI
import Testing

/// `GET /id` carries every field of ipfs-cluster's `api.ID`, with PinMesh's values.
@Suite(.serialized) struct IDRouteTests {
    @Test("GET /id has cluster_peers_addresses (the other peers', dialable), commit and rpc_protocol_version")
    func idHasIpfsClusterFields() async throws {
        // Served by the second peer, which bootstrapped through the first: it knows the first's
        // address from the dial itself (the first learns the second's through an exchange).
        let c = try await LocalCluster(peers: 2)
        var quiet = Logger(label: "test.restapi")
        quiet.logLevel = .critical
        let server = try await RunningApp.start(logger: quiet) { running in
            try RESTAPIServer(peer: c[1].peer, logger: quiet).application(host: "127.0.0.1", port: 0, onRunning: running)
        }
        defer {
            Task {
                await server.stop()
                await c.shutdown()
            }
        }
        let client = try ClusterClient(hosts: ["/ip4/127.0.0.1/tcp/\(server.port)"])
        #expect(await LocalCluster.eventually { await c[1].peer.monitor.peers().count == 2 })
        let (me, other) = (c[1].id.description, c[0].id.description)
        let known = await c[1].peer.connections.peerstore.addresses(of: c[0].id).map(\.description)
        #expect(!known.isEmpty)
        // Asked until the other peer is in the peerset (a ping can be late for a moment on a
        // loaded run, and the peerset is the peers with an unexpired ping).
        func fetchID() async throws -> [String: Any] {
            let bytes = try await client.call(.GET, "/id")
            return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        }
        _ = await LocalCluster.eventually { (try? await fetchID())?["cluster_peers"].flatMap { $0 as? [String] }?.count == 2 }
        let id = try await fetchID()
        for key in ["id", "addresses", "cluster_peers", "cluster_peers_addresses", "version", "commit", "rpc_protocol_version", "error", "ipfs", "peername"] {
            #expect(id[key] != nil, "\(key) missing from \(id)")
        }
        #expect(id["id"] as? String == me && id["peername"] as? String == "peer1")
        let addresses = try #require(id["cluster_peers_addresses"] as? [String])
        #expect(addresses == known && addresses.allSatisfy { $0.hasSuffix("/p2p/\(other)") && $0.hasPrefix("/ip4/127.0.0.1/tcp/") }, "\(addresses)")
        #expect(!addresses.contains { $0.contains(me) }, "this peer's own addresses are `addresses`, not cluster peers'")
        #expect(id["commit"] as? String == "")
        let rpc = try #require(id["rpc_protocol_version"] as? String)
        // The handshake's Noise prologue: peers that differ in it cannot connect.
        let spec = try String(contentsOf: Vectors.repositoryRoot.appendingPathComponent("Specs/transport.md"), encoding: .utf8)
        #expect(rpc == "pinmesh/1" && spec.contains("prologue `\(rpc)`"), "\(rpc)")
        #expect(id["version"] as? String == PinMeshVersion.string && (id["cluster_peers"] as? [String])?.count == 2)
        // ClusterClient's typed call of /version.
        #expect(try await client.version() == PinMeshVersion.string)
    }
}
