import ClusterModel
import Foundation
import Node
import Testing

@Suite struct ServiceConfigTests {
    static let secret = String(repeating: "ab", count: 32)

    static func load(_ json: String, env: [String: String] = [:]) throws -> ServiceConfig {
        try ServiceConfig.load(Data(json.utf8), environment: env, peername: "p1")
    }

    @Test func aFileNamesOnlyWhatItChanges() throws {
        let c = try Self.load(#"{"cluster": {"secret": "\#(Self.secret)", "replication_factor_min": 2, "replication_factor_max": 3}}"#)
        #expect(c.cluster.replicationFactorMin == 2 && c.cluster.replicationFactorMax == 3)
        #expect(c.cluster.peername == "p1")
        #expect(c.allocator.balanced.allocateBy == ["tag:group", "freespace"])
        #expect(c.ipfsConnector.ipfshttp.nodeMultiaddress == "/ip4/127.0.0.1/tcp/5091")
        #expect(c.secretBytes == [UInt8](repeating: 0xab, count: 32))
    }

    @Test func defaultsRoundTripThroughJSON() throws {
        let d = ServiceConfig.defaults(peername: "x", secret: Self.secret)
        try d.validate()
        let text = String(decoding: try d.json(), as: UTF8.self)
        // ipfs-cluster's key names.
        for key in ["\"replication_factor_min\"", "\"trusted_peers\"", "\"http_listen_multiaddress\"", "\"node_multiaddress\"", "\"concurrent_pins\"", "\"allocate_by\"", "\"metric_ttl\"", "\"ipfs_connector\"", "\"pin_tracker\""] {
            #expect(text.contains(key), "\(key) missing")
        }
        #expect(try ServiceConfig.load(try d.json(), environment: [:]) == d)
    }

    @Test func unknownKeysAndBadValuesNameTheKey() throws {
        func problem(_ json: String, env: [String: String] = [:]) -> ServiceConfig.ConfigError? {
            do {
                _ = try Self.load(json, env: env)
                return nil
            } catch let e as ServiceConfig.ConfigError {
                return e
            } catch {
                return ServiceConfig.ConfigError(key: "?", problem: "\(error)")
            }
        }
        let s = #""secret": "\#(Self.secret)""#
        #expect(problem(#"{"cluster": {\#(s), "replication_factr_min": 2}}"#)?.key == "cluster.replication_factr_min")
        #expect(problem(#"{"cluster": {"secret": "abc"}}"#)?.key == "cluster.secret")
        #expect(problem(#"{"cluster": {\#(s), "replication_factor_min": "two"}}"#)?.key == "cluster.replication_factor_min")
        #expect(problem(#"{"cluster": {\#(s), "replication_factor_min": 3, "replication_factor_max": 2}}"#)?.key == "cluster.replication_factor_min")
        #expect(problem(#"{"cluster": {\#(s), "replication_factor_min": 0}}"#)?.key == "cluster.replication_factor_min")
        #expect(problem(#"{"cluster": {\#(s), "state_sync_interval": "5 minutes"}}"#)?.key == "cluster.state_sync_interval")
        #expect(problem(#"{"cluster": {\#(s)}, "consensus": {"crdt": {"trusted_peers": ["nobody"]}}}"#)?.key == "consensus.crdt.trusted_peers[0]")
        #expect(problem(#"{"cluster": {\#(s)}, "api": {"restapi": {"http_listen_multiaddress": "localhost:9094"}}}"#)?.key == "api.restapi.http_listen_multiaddress[0]")
        #expect(problem(#"{"cluster": {\#(s)}, "informer": {"disk": {"metric_ttl": "1s"}}}"#)?.key == "informer.disk.metric_ttl")
        #expect(problem("[1, 2]")?.key == "(file)")
        #expect(problem("{not json")?.key == "(file)")
        // Limits at the edge: 1 concurrent pin passes, 0 does not.
        #expect(problem(#"{"cluster": {\#(s)}, "pin_tracker": {"stateless": {"concurrent_pins": 1}}}"#) == nil)
        #expect(problem(#"{"cluster": {\#(s)}, "pin_tracker": {"stateless": {"concurrent_pins": 0}}}"#)?.key == "pin_tracker.stateless.concurrent_pins")
        // HTTPS needs both files.
        #expect(problem(#"{"cluster": {\#(s)}, "api": {"restapi": {"ssl_cert_file": "cert.pem"}}}"#)?.key == "api.restapi.ssl_key_file")
        #expect(problem(#"{"cluster": {\#(s)}, "api": {"restapi": {"ssl_key_file": "key.pem"}}}"#)?.key == "api.restapi.ssl_cert_file")
        #expect(problem(#"{"cluster": {\#(s)}, "api": {"restapi": {"ssl_cert_file": "cert.pem", "ssl_key_file": "key.pem"}}}"#) == nil)
        // Free-form maps take any keys.
        #expect(problem(#"{"cluster": {\#(s)}, "informer": {"tags": {"tags": {"region": "eu", "group": "a"}}}}"#) == nil)
    }

    @Test func environmentOverridesTheFile() throws {
        let env = [
            "PINMESH_CLUSTER_SECRET": Self.secret,
            "PINMESH_CLUSTER_PEERNAME": "from-env",
            "PINMESH_CLUSTER_REPLICATION_FACTOR_MIN": "2",
            "PINMESH_CLUSTER_REPLICATIONFACTORMAX": "4",
            "PINMESH_CLUSTER_DISABLE_REPINNING": "True",
            "PINMESH_CRDT_TRUSTED_PEERS": "*, 12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
            "PINMESH_IPFSHTTP_NODE_MULTIADDRESS": "/ip4/127.0.0.1/tcp/5001",
            "PINMESH_TAGS_TAGS": #"{"group": "edge"}"#,
            "PINMESH_RESTAPI_BASIC_AUTH_CREDENTIALS": #"{"admin": "s3cret"}"#,
            "PINMESH_PATH": "/not/a/key",
        ]
        let c = try Self.load(#"{"cluster": {"peername": "from-file", "replication_factor_min": 1}}"#, env: env)
        #expect(c.cluster.peername == "from-env")
        #expect(c.cluster.replicationFactorMin == 2 && c.cluster.replicationFactorMax == 4)
        #expect(c.cluster.disableRepinning)
        #expect(c.consensus.crdt.trustedPeers.count == 2)
        #expect(c.ipfsConnector.ipfshttp.nodeMultiaddress == "/ip4/127.0.0.1/tcp/5001")
        #expect(c.informer.tags.tags == ["group": "edge"])
        #expect(c.api.restapi.basicAuthCredentials == ["admin": "s3cret"])
        #expect(throws: ServiceConfig.ConfigError.self) {
            _ = try Self.load("{}", env: ["PINMESH_CLUSTER_SECRET": Self.secret, "PINMESH_CLUSTER_LEAVE_ON_SHUTDOWN": "maybe"])
        }
    }

    @Test func goDurations() {
        #expect(GoDuration.parse("1m30s") == .seconds(90))
        #expect(GoDuration.parse("250ms") == .milliseconds(250))
        #expect(GoDuration.parse("x") == nil)
        for (d, text) in [(Duration.zero, "0s"), (.seconds(30), "30s"), (.seconds(300), "5m0s"), (.seconds(3600), "1h0m0s"),
                          (.milliseconds(250), "250ms"), (.milliseconds(1500), "1.5s"), (.seconds(90_061), "25h1m1s"), (.microseconds(3), "3µs")] {
            #expect(GoDuration.format(d) == text)
            #expect(GoDuration.parse(text) == d)
        }
    }
}
