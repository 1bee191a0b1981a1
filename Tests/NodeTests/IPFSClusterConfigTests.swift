import ClusterModel
import ClusterTestKit
import Foundation
import Node
import Testing

/// ipfs-cluster's own configuration files (Specs/vectors/ipfs-cluster/), read unchanged.
@Suite struct IPFSClusterConfigTests {
    static func read(_ name: String, env: [String: String] = [:]) throws -> (config: ServiceConfig, notes: ServiceConfig.LoadNotes) {
        try ServiceConfig.read(try Vectors.data("ipfs-cluster/" + name), environment: env, peername: "p1")
    }

    @Test("the service.json ipfs-cluster-service init writes loads, means kubo at 5001, and names what PinMesh does not act on")
    func initFileLoads() throws {
        let (c, notes) = try Self.read("service-init-1.1.6.json")
        #expect(c.cluster.peername == "ipfs-cluster-host")
        #expect(c.ipfsConnector.ipfshttp.embedded == false)
        #expect(c.ipfsConnector.ipfshttp.nodeMultiaddress == "/ip4/127.0.0.1/tcp/5001")
        #expect(c.api.restapi.httpListenMultiaddress == ["/ip4/127.0.0.1/tcp/9094"])
        #expect(c.api.ipfsproxy.listenMultiaddress == ["/ip4/127.0.0.1/tcp/9095"])
        #expect(c.api.pinsvcapi.httpListenMultiaddress == ["/ip4/127.0.0.1/tcp/9097"])
        #expect(c.consensus.crdt.clusterName == "ipfs-cluster")
        // max_batch_size 0 is ipfs-cluster's "batching off": one write per delta, at once.
        #expect(c.consensus.crdt.batching.maxBatchSize == 1 && c.consensus.crdt.batching.maxBatchAge == "0s")
        // observations.metrics is PinMesh's metrics section.
        #expect(c.metrics.enableStats == false && c.metrics.prometheusEndpoint == "/ip4/127.0.0.1/tcp/8888")
        #expect(c.cluster.monitorPingInterval == "15s" && c.informer.disk.metricTtl == "30s")
        // numpin is not in the file: its TTL follows the 15 s ping interval (3 intervals).
        #expect(c.informer.numpin.metricTtl == "45s")
        let keys = notes.ignored.map(\.key)
        for key in [
            "cluster.connection_manager", "cluster.resource_manager", "cluster.pubsub", "cluster.enable_relay_hop",
            "cluster.mdns_interval", "cluster.announce_multiaddress", "cluster.no_announce_multiaddress", "datastore",
            "observations.tracing", "observations.metrics.reporting_interval",
        ] {
            #expect(keys.contains(key), "\(key) not named")
        }
        #expect(Set(keys).count == keys.count, "each key is named once")
        #expect(notes.ignored.allSatisfy { !$0.instead.isEmpty })
    }

    @Test("ipfs-cluster's sharness configurations load: raft, monbasic, replication_factor, a 15 s ping, HTTPS files")
    func sharnessFilesLoad() throws {
        for name in ["sharness-basic_auth", "sharness-ssl", "sharness-ssl-basic_auth"] {
            let (c, notes) = try Self.read(name + "/service.json")
            #expect(c.cluster.replicationFactorMin == -1 && c.cluster.replicationFactorMax == -1, "\(name)")
            #expect(c.cluster.monitorPingInterval == "15s")
            // The tags TTL the file leaves out follows its ping interval instead of failing the check.
            #expect(c.informer.tags.metricTtl == "45s")
            #expect(c.ipfsConnector.ipfshttp.embedded == false)
            #expect(c.cluster.listenMultiaddress == ["/ip4/0.0.0.0/tcp/9096", "/ip6/::/tcp/9096"])
            #expect(notes.ignored.map(\.key).contains("consensus.raft"), "\(name)")
            #expect(notes.ignored.map(\.key).contains("pin_tracker.stateless.max_pin_queue_size"), "\(name)")
        }
        let (basic, notes) = try Self.read("sharness-basic_auth/service.json")
        #expect(basic.api.restapi.basicAuthCredentials == ["testuser": "testpass"])
        #expect(notes.ignored.map(\.key).contains("monitor.monbasic"))
        #expect(try Self.read("sharness-ssl/service.json").config.api.restapi.sslCertFile == "server.crt")
    }

    @Test("a file naming node_multiaddress without embedded means an external daemon; PinMesh's own keys keep the embedded node")
    func embeddedOnlyWhenSaid() throws {
        let s = #""secret": "\#(String(repeating: "ab", count: 32))""#
        func load(_ json: String) throws -> ServiceConfig { try ServiceConfig.load(Data(json.utf8), environment: [:], peername: "p") }
        let kubo = try load(#"{"cluster": {\#(s)}, "ipfs_connector": {"ipfshttp": {"node_multiaddress": "/ip4/127.0.0.1/tcp/5001"}}}"#)
        #expect(!kubo.ipfsConnector.ipfshttp.embedded)
        let own = try load(#"{"cluster": {\#(s)}, "ipfs_connector": {"ipfshttp": {"node_multiaddress": "/ip4/127.0.0.1/tcp/5093", "embedded": true}}}"#)
        #expect(own.ipfsConnector.ipfshttp.embedded)
        #expect(try load(#"{"cluster": {\#(s)}}"#).ipfsConnector.ipfshttp.embedded)
    }

    @Test("ipfs-cluster's environment names override the file; PinMesh's own win over them")
    func clusterEnvironmentNames() throws {
        let env = [
            "CLUSTER_SECRET": String(repeating: "cd", count: 32),
            "CLUSTER_PEERNAME": "from-cluster-env",
            "CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS": "/ip4/127.0.0.1/tcp/19094",
            "CLUSTER_IPFSPROXY_LISTENMULTIADDRESS": "/ip4/127.0.0.1/tcp/19095",
            "CLUSTER_IPFSHTTP_NODEMULTIADDRESS": "/ip4/127.0.0.1/tcp/15001",
            "CLUSTER_CRDT_CLUSTERNAME": "from-env",
            "CLUSTER_METRICS_ENABLESTATS": "true",
            "CLUSTER_REPLICATIONFACTORMIN": "2",
            "PINMESH_CLUSTER_REPLICATION_FACTOR_MIN": "3",
            "CLUSTER_RAFT_HEARTBEATTIMEOUT": "2s",
            "CLUSTER_CREDENTIALS": "user:pass",
        ]
        let (c, _) = try Self.read("sharness-basic_auth/service.json", env: env)
        #expect(c.cluster.secret == String(repeating: "cd", count: 32))
        #expect(c.cluster.peername == "from-cluster-env")
        #expect(c.api.restapi.httpListenMultiaddress == ["/ip4/127.0.0.1/tcp/19094"])
        #expect(c.api.ipfsproxy.listenMultiaddress == ["/ip4/127.0.0.1/tcp/19095"])
        #expect(c.ipfsConnector.ipfshttp.nodeMultiaddress == "/ip4/127.0.0.1/tcp/15001")
        #expect(c.consensus.crdt.clusterName == "from-env")
        #expect(c.metrics.enableStats)
        #expect(c.cluster.replicationFactorMin == 3)
    }

    @Test("keys that change behaviour PinMesh lacks are refused unless off; truly unknown keys are still refused")
    func refusals() throws {
        let s = #""secret": "\#(String(repeating: "ab", count: 32))""#
        func problem(_ json: String) -> String? {
            do {
                _ = try ServiceConfig.load(Data(json.utf8), environment: [:], peername: "p")
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(problem(#"{"cluster": {\#(s), "follower_mode": false}}"#) == nil)
        #expect(problem(#"{"cluster": {\#(s), "follower_mode": true}}"#)?.contains("cluster.follower_mode: follower mode is not built yet") == true)
        #expect(problem(#"{"cluster": {\#(s), "pin_only_on_untrusted_peers": true}}"#)?.contains("cluster.pin_only_on_untrusted_peers") == true)
        #expect(problem(#"{"cluster": {\#(s)}, "ipfs_connector": {"ipfshttp": {"unpin_disable": true}}}"#)?.contains("unpin_disable") == true)
        #expect(problem(#"{"cluster": {\#(s), "conection_manager": {}}}"#) == "service.json: cluster.conection_manager: unknown key; see Specs/configuration.md for the keys of each section")
        #expect(problem(#"{"cluster": {\#(s)}, "observations": {"metric": {}}}"#) == "service.json: observations.metric: unknown key; observations has metrics and tracing")
        // PinMesh's own metrics section wins over observations.metrics.
        let both = try ServiceConfig.load(
            Data(#"{"cluster": {\#(s)}, "metrics": {"enable_stats": true}, "observations": {"metrics": {"enable_stats": false}}}"#.utf8),
            environment: [:], peername: "p")
        #expect(both.metrics.enableStats)
    }

    @Test("an older file's replication_factor sets both factors; its cluster.private_key is the identity; an RSA key names the migration")
    func olderFiles() throws {
        let s = #""secret": "\#(String(repeating: "ab", count: 32))""#
        let (c, notes) = try ServiceConfig.read(
            Data(#"{"cluster": {\#(s), "replication_factor": 2, "id": "QmX", "private_key": "CAASqAkw"}}"#.utf8), environment: [:], peername: "p")
        #expect(c.cluster.replicationFactorMin == 2 && c.cluster.replicationFactorMax == 2)
        #expect(notes.legacyIdentity?.id == "QmX" && notes.legacyIdentity?.privateKey == "CAASqAkw")
        let rsa = try JSONSerialization.jsonObject(with: try Vectors.data("ipfs-cluster/sharness-basic_auth/identity.json")) as! [String: String]
        #expect(IdentityFile.keyType(ofPrivateKey: rsa["private_key"]!) == 0)
        #expect(throws: IdentityError.self) { try IdentityFile.decode(id: rsa["id"]!, privateKey: rsa["private_key"]!, source: "identity.json") }
        do {
            _ = try IdentityFile.decode(id: rsa["id"]!, privateKey: rsa["private_key"]!, source: "identity.json")
        } catch let e as IdentityError {
            #expect(e.description.hasPrefix("identity.json holds an RSA key (peer ID QmdEtBsfumeH2V6dnx1fgn8zuW7XYjWdgJF4NEYpEBcTsg)"))
            #expect(e.description.contains("`pinmesh key migrate --config <the peer's directory>`"))
        }
    }
}
