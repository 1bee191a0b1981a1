import ClusterTestKit
import Foundation
import Multiformats
import Testing

/// Two real `pinmesh daemon` processes on loopback, driven with `pinmeshctl` and curl as a
/// user would; stopped with SIGTERM and SIGINT. Every wait is bounded.
@Suite(.serialized) struct DaemonProcessTests {
    final class Daemon {
        let process = Process()
        let out: String
        let err: String

        init(_ dir: String, _ extra: [String] = [], environment: [String: String] = [:]) throws {
            out = dir + ".out"
            err = dir + ".log"
            _ = FileManager.default.createFile(atPath: out, contents: nil)
            _ = FileManager.default.createFile(atPath: err, contents: nil)
            process.executableURL = CLITests.binDir.appendingPathComponent("pinmesh")
            process.arguments = ["daemon", "--config", dir] + extra
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardOutput = FileHandle(forWritingAtPath: out)
            process.standardError = FileHandle(forWritingAtPath: err)
            try process.run()
        }

        var output: String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
        var log: String { (try? String(contentsOfFile: err, encoding: .utf8)) ?? "" }

        /// The value after `label` on the ready lines.
        func field(_ label: String) -> String? {
            output.split(separator: "\n").first { $0.hasPrefix("  " + label) }
                .flatMap { $0.dropFirst(2 + label.count).split(separator: " ").first.map(String.init) }
        }

        func ready() async -> Bool { await LocalCluster.eventually(timeout: .seconds(60)) { self.field("cluster") != nil } }
    }

    static func curl(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s"] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// A pin of content nobody has: the daemon's embedded node waits for blocks nobody sends,
    /// and SIGTERM still stops the daemon at once (it used to wait minutes for the pin).
    @Test func aPinWaitingForBlocksDoesNotHoldUpSIGTERM() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-stuck-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let r = try CLITests.run("pinmesh", ["init", "--config", "\(root)/p", "--secret", secret, "--peername", "p", "--randomports"])
        #expect(r.status == 0, "\(r.err)")
        let d = try Daemon("\(root)/p")
        defer { if d.process.isRunning { d.process.terminate() } }
        #expect(await d.ready(), "the daemon did not start: \(d.log)")
        let api = try #require(d.field("REST API"))
        // A CID of random bytes: no one anywhere has it.
        let nobody = CID.v1(codec: .raw, .sha256((0..<64).map { _ in UInt8.random(in: 0...255) })).description
        let pin = try CLITests.run("pinmeshctl", ["--host", api, "pin", "add", nobody, "--no-status"])
        #expect(pin.status == 0, "\(pin.err)")
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) {
            (try? CLITests.run("pinmeshctl", ["--host", api, "status", nobody]))?.out.contains("PINNING") == true
        })
        let stop = ContinuousClock.now
        d.process.terminate()
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) { !d.process.isRunning })
        let took = ContinuousClock.now - stop
        #expect(took < .seconds(10), "SIGTERM took \(took): \(d.log.suffix(2000))")
        #expect(d.process.terminationStatus == 0, "\(d.log.suffix(2000))")
    }

    @Test func twoDaemonsPinWithPinmeshctlAndStopOnSignals() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-daemons-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        for i in 1...2 {
            let r = try CLITests.run("pinmesh", ["init", "--config", "\(root)/p\(i)", "--secret", secret, "--peername", "p\(i)", "--randomports"])
            #expect(r.status == 0, "\(r.err)")
        }
        // p1 serves its API over HTTPS (a self-signed test certificate, relative to its folder).
        let fixtures = Vectors.repositoryRoot.appendingPathComponent("Tests/RESTAPITests/Fixtures")
        for name in ["test-tls-cert.pem", "test-tls-key.pem"] {
            try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent(name).path, toPath: "\(root)/p1/\(name)")
        }
        let configPath = "\(root)/p1/service.json"
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
        var apiSection = try #require(config["api"] as? [String: Any])
        var restapi = try #require(apiSection["restapi"] as? [String: Any])
        restapi["ssl_cert_file"] = "test-tls-cert.pem"
        restapi["ssl_key_file"] = "test-tls-key.pem"
        apiSection["restapi"] = restapi
        config["api"] = apiSection
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: configPath))
        let d1 = try Daemon("\(root)/p1")
        defer { if d1.process.isRunning { d1.process.terminate() } }
        #expect(await d1.ready(), "p1 did not start: \(d1.log)")
        let d2 = try Daemon("\(root)/p2", ["--bootstrap", try #require(d1.field("cluster"))])
        defer { if d2.process.isRunning { d2.process.terminate() } }
        #expect(await d2.ready(), "p2 did not start: \(d2.log)")
        let api = try #require(d2.field("REST API"))
        let ipfs = try #require(d1.field("IPFS API"))
        let secureAPI = try #require(d1.field("REST API"))
        #expect(secureAPI.hasPrefix("https://127.0.0.1:"), "\(d1.output)")
        let overTLS = try CLITests.run("pinmeshctl", ["--host", secureAPI, "--no-check-certificate", "--debug", "id"])
        #expect(overTLS.status == 0 && overTLS.out.contains("| p1 |"), "\(overTLS)")
        #expect(overTLS.err.contains("debug: > GET \(secureAPI)/id") && overTLS.err.contains("debug: < 200 OK"), "\(overTLS.err)")
        let port = try #require(secureAPI.split(separator: ":").last)
        let verified = try CLITests.run("pinmeshctl", ["--host", "/ip4/127.0.0.1/tcp/\(port)", "--https", "--timeout", "3", "id"])
        #expect(verified.status != 0 && verified.err.lowercased().contains("certificate"), "\(verified)")
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) {
            ((try? CLITests.run("pinmeshctl", ["--host", api, "peers", "ls", "--enc", "json"]).out) ?? "").components(separatedBy: "\"peername\"").count == 3
        })

        // Content in p1's embedded IPFS; pinned through p2's API on both peers.
        let file = root + "/sample.bin"
        _ = FileManager.default.createFile(atPath: file, contents: Data((0..<300_000).map { _ in UInt8.random(in: 0...255) }))
        let added = try Self.curl(["-X", "POST", "-F", "file=@\(file)", "\(ipfs)/add?pin=false"])
        let parts = added.split(separator: "\"").map(String.init)
        let hashAt = try #require(parts.firstIndex(of: "Hash"), "\(added)")
        let cid = parts[hashAt + 2]
        let pin = try CLITests.run("pinmeshctl", ["--host", api, "pin", "add", "--replication", "2", "--name", "sample", "--wait", "--wait-timeout", "60s", cid])
        #expect(pin.status == 0, "\(pin.out) \(pin.err)")
        #expect(pin.out.components(separatedBy: ": PINNED").count == 3, "\(pin.out)")
        let status = try CLITests.run("pinmeshctl", ["status", "--host", api, "--enc", "json", cid])
        #expect(status.out.contains("\"status\" : \"pinned\""), "\(status.out)")
        // Both peers learnt their IPFS daemon's ID, though each daemon starts beside its peer.
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) {
            let out = (try? CLITests.run("pinmeshctl", ["status", "--host", api, "--enc", "json", cid]).out) ?? ""
            return out.components(separatedBy: "\"ipfs_peer_id\" : \"12D3KooW").count == 3
        })
        let ls = try CLITests.run("pinmeshctl", ["--host", api, "pin", "ls"])
        #expect(ls.out.contains("\(cid) | sample | PIN | Repl. Factor: 2--2"), "\(ls.out)")
        // `pinmeshctl add`: uploaded to p2's API, blocks sent to both peers, pinned on both;
        // the CID is the one `--only-hash` (and `ipfs add`) gives.
        let tree = root + "/tree"
        try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: tree + "/a.txt", contents: Data("alpha\n".utf8))
        _ = FileManager.default.createFile(atPath: tree + "/sub/b.bin", contents: Data((0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
        let hashed = try CLITests.run("pinmeshctl", ["add", "--only-hash", "-r", "-Q", "--cid-version", "1", tree]).out
        let uploaded = try CLITests.run(
            "pinmeshctl", ["--host", api, "add", "-r", "--cid-version", "1", "--replication", "2", "--name", "tree", "--wait", "--wait-timeout", "60s", tree])
        #expect(uploaded.status == 0, "\(uploaded.out) \(uploaded.err)")
        #expect(uploaded.out.contains("added \(hashed.trimmingCharacters(in: .whitespacesAndNewlines)) tree\n"), "\(uploaded.out) vs \(hashed)")
        #expect(uploaded.out.components(separatedBy: ": PINNED").count == 3, "\(uploaded.out)")
        let quieter = try CLITests.run("pinmeshctl", ["--host", api, "add", "-Q", "--enc", "text", tree + "/a.txt"])
        #expect(quieter.status == 0 && quieter.out == "QmV4STRyo1dygxGhZcr877TQ1M9AZuXhfm6HrXjxW1TYNP\n", "\(quieter)")
        // A sharded add: one megabyte in four shards of 256 KiB over both peers, read back whole.
        let big = root + "/big.bin"
        let bigData = Data((0..<1_048_576).map { _ in UInt8.random(in: 0...255) })
        _ = FileManager.default.createFile(atPath: big, contents: bigData)
        let sharded = try CLITests.run(
            "pinmeshctl", ["--host", api, "add", "--shard", "--shard-size", "262144", "--rmin", "1", "--rmax", "1", "--name", "big", "--wait", "--wait-timeout", "60s", big])
        #expect(sharded.status == 0 && sharded.out.contains(": SHARDED"), "\(sharded)")
        let shardedRoot = try #require(sharded.out.split(separator: " ").dropFirst().first.map(String.init), "\(sharded.out)")
        let shardStatus = try CLITests.run("pinmeshctl", ["--host", api, "status", shardedRoot])
        #expect(shardStatus.out.components(separatedBy: "shard-").count == 5 && shardStatus.out.contains("clusterDAG"), "\(shardStatus.out)")
        let listed = try CLITests.run("pinmeshctl", ["--host", api, "pin", "ls", "--filter", "meta-pin,shard-pin,clusterdag-pin"])
        #expect(listed.out.split(separator: "\n").count == 6, "\(listed.out)")
        _ = try Self.curl(["-X", "POST", "\(ipfs)/cat?arg=\(shardedRoot)", "-o", root + "/big.out"])
        #expect(FileManager.default.contents(atPath: root + "/big.out") == bigData)

        // The connection graph as Graphviz text, and garbage collection on both peers.
        let graph = try CLITests.run("pinmeshctl", ["--host", api, "health", "graph"])
        #expect(graph.status == 0 && graph.out.hasPrefix("digraph cluster {") && graph.out.contains("p1") && graph.out.contains("p2"), "\(graph)")
        #expect(graph.out.components(separatedBy: " -> ").count >= 3, "\(graph.out)")
        let bandwidth = try CLITests.run("pinmeshctl", ["--host", api, "health", "bandwidth"])
        #expect(bandwidth.status == 0 && bandwidth.out.contains("/pinmesh/tcp | in: "), "\(bandwidth)")
        let gc = try CLITests.run("pinmeshctl", ["--host", api, "ipfs", "gc"])
        #expect(gc.status == 0 && gc.out.components(separatedBy: "removed").count == 3, "\(gc)")

        let badCID = try CLITests.run("pinmeshctl", ["--host", api, "pin", "add", "not-a-cid"])
        #expect(badCID.status != 0 && badCID.err.contains("is not a CID"), "\(badCID.err)")
        let metricsPort = try String(contentsOfFile: "\(root)/p1/service.json", encoding: .utf8)
            .split(separator: "\n").first { $0.contains("prometheus_endpoint") }?.split(separator: "/").last?.filter(\.isNumber)
        let metrics = try Self.curl(["http://127.0.0.1:\(try #require(metricsPort))/metrics"])
        #expect(metrics.contains("pinmesh_peers"), "\(metrics.prefix(500))")

        // SIGTERM: a graceful stop with exit status 0; SIGINT likewise.
        d2.process.terminate()
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) { !d2.process.isRunning })
        #expect(d2.process.terminationStatus == 0, "\(d2.log)")
        #expect(d2.log.contains("shutting down"))
        d1.process.interrupt()
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) { !d1.process.isRunning })
        #expect(d1.process.terminationStatus == 0, "\(d1.log)")
    }
}
