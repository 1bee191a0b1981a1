import ClusterTestKit
import Foundation
import Testing

/// An ipfs-cluster user's files, unchanged, on a PinMesh host: ipfs-cluster's own sharness
/// configuration (raft, an RSA identity, kubo at node_multiaddress) runs a daemon that uses
/// the IPFS daemon beside it, after the one-command identity migration. Ports come from
/// ipfs-cluster's environment variable names, as a deployment's scripts would set them.
@Suite(.serialized) struct IPFSClusterMigrationTests {
    /// A TCP port free a moment ago on 127.0.0.1.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    @Test("ipfs-cluster's sharness service.json and RSA identity: refused with the migration, migrated in one command, then served with the IPFS daemon beside it as kubo")
    func sharnessConfigurationRunsBesideAnIPFSDaemon() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-migrate-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = root + "/cluster"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let vectors = Vectors.repositoryRoot.appendingPathComponent("Specs/vectors/ipfs-cluster/sharness-basic_auth")
        for name in ["service.json", "identity.json"] {
            try FileManager.default.copyItem(atPath: vectors.appendingPathComponent(name).path, toPath: "\(dir)/\(name)")
        }
        // The "kubo" beside it: an IPFS daemon on its own port (the embedded node, run alone).
        let ipfsLog = root + "/ipfs.log"
        _ = FileManager.default.createFile(atPath: ipfsLog, contents: nil)
        let ipfs = Process()
        ipfs.executableURL = CLITests.binDir.appendingPathComponent("pinmesh")
        ipfs.arguments = ["ipfs", "daemon", "--repo", root + "/kubo", "--api", "/ip4/127.0.0.1/tcp/0", "--swarm", "/ip4/127.0.0.1/tcp/0"]
        ipfs.standardOutput = FileHandle(forWritingAtPath: ipfsLog)
        ipfs.standardError = FileHandle(forWritingAtPath: ipfsLog)
        try ipfs.run()
        defer { if ipfs.isRunning { ipfs.terminate() } }
        func ipfsPort() -> String? {
            let text = (try? String(contentsOfFile: ipfsLog, encoding: .utf8)) ?? ""
            guard let r = text.range(of: #"RPC API server listening on /ip4/127\.0\.0\.1/tcp/[0-9]+"#, options: .regularExpression) else { return nil }
            return text[r].split(separator: "/").last.map(String.init)
        }
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) { ipfsPort() != nil })
        let kubo = "/ip4/127.0.0.1/tcp/\(try #require(ipfsPort()))"
        let env = [
            "CLUSTER_LISTENMULTIADDRESS": "/ip4/127.0.0.1/tcp/\(Self.freePort())",
            "CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS": "/ip4/127.0.0.1/tcp/\(Self.freePort())",
            "CLUSTER_IPFSPROXY_LISTENMULTIADDRESS": "/ip4/127.0.0.1/tcp/\(Self.freePort())",
            "CLUSTER_IPFSPROXY_NODEMULTIADDRESS": kubo,
            "CLUSTER_PINSVCAPI_HTTPLISTENMULTIADDRESS": "/ip4/127.0.0.1/tcp/\(Self.freePort())",
            "CLUSTER_IPFSHTTP_NODEMULTIADDRESS": kubo,
            "CLUSTER_METRICS_ENABLESTATS": "false",
        ]

        // The RSA identity is refused, saying what to run.
        let refused = try DaemonProcessTests.Daemon(dir, environment: env)
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) { !refused.process.isRunning })
        #expect(refused.process.terminationStatus != 0)
        #expect(refused.log.contains("holds an RSA key (peer ID QmdEtBsfumeH2V6dnx1fgn8zuW7XYjWdgJF4NEYpEBcTsg)"), "\(refused.log)")
        #expect(refused.log.contains("pinmesh key migrate --config"), "\(refused.log)")
        #expect(!refused.log.contains("Usage:"), "a startup failure is not a usage error")

        let migrate = try CLITests.run("pinmesh", ["key", "migrate", "--config", dir])
        #expect(migrate.status == 0, "\(migrate.err)")
        #expect(migrate.out.contains("old peer ID: QmdEtBsfumeH2V6dnx1fgn8zuW7XYjWdgJF4NEYpEBcTsg"), "\(migrate.out)")
        let newID = try #require(migrate.out.split(separator: "\n").first { $0.hasPrefix("new peer ID: ") }?.split(separator: " ")[3])
        #expect(FileManager.default.fileExists(atPath: dir + "/identity.json.old"))
        let again = try CLITests.run("pinmesh", ["key", "migrate", "--config", dir])
        #expect(again.status == 0 && again.out.contains("already an Ed25519 identity"), "\(again)")

        let d = try DaemonProcessTests.Daemon(dir, environment: env)
        defer { if d.process.isRunning { d.process.terminate() } }
        #expect(await d.ready(), "the daemon did not start: \(d.log)")
        let api = try #require(d.field("REST API"))
        #expect(api == "http://" + env["CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS"]!.replacingOccurrences(of: "/ip4/", with: "").replacingOccurrences(of: "/tcp/", with: ":"))
        #expect(d.output.contains("IPFS API   http://127.0.0.1:\(kubo.split(separator: "/").last!)/api/v0\n"), "kubo, not the embedded node: \(d.output)")
        #expect(d.log.contains("service.json sets ipfs-cluster keys PinMesh does not act on"), "\(d.log.prefix(3000))")
        #expect(d.log.contains("consensus.raft: PinMesh has no leader"))
        #expect(d.log.contains("monitor.monbasic"))

        // The file's basic auth guards the API; /id names the file's peer and the IPFS daemon beside it.
        #expect(try DaemonProcessTests.curl(["-o", "/dev/null", "-w", "%{http_code}", api + "/id"]) == "401")
        let id = try DaemonProcessTests.curl(["-u", "testuser:testpass", api + "/id"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(id.utf8)) as? [String: Any], "\(id)")
        #expect(json["peername"] as? String == "testname")
        #expect(json["id"] as? String == String(newID))
        let kuboID = try DaemonProcessTests.curl(["-X", "POST", "http://127.0.0.1:\(kubo.split(separator: "/").last!)/api/v0/id"])
        let kuboJSON = try #require(try JSONSerialization.jsonObject(with: Data(kuboID.utf8)) as? [String: Any])
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) {
            let now = (try? DaemonProcessTests.curl(["-u", "testuser:testpass", api + "/id"])) ?? ""
            let ipfsID = ((try? JSONSerialization.jsonObject(with: Data(now.utf8))) as? [String: Any])?["ipfs"] as? [String: Any]
            return ipfsID?["id"] as? String == kuboJSON["ID"] as? String
        }, "the peer does not use the IPFS daemon at \(kubo)")
        d.process.terminate()
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) { !d.process.isRunning })
    }
}
