import ClusterTestKit
import Foundation
import Multiformats
import Testing

/// What `pinmesh daemon` says when it cannot start a listener: which one, its address and the
/// key to change; and no ready block, which is printed only once every listener is bound.
@Suite(.serialized) struct DaemonStartupTests {
    @Test("a port in use names the listener and its config key; the daemon prints no ready block and exits 1")
    func aPortInUseNamesTheListener() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-port-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try CLITests.run("pinmesh", ["init", "--config", root, "--randomports", "--peername", "p"])
        #expect(r.status == 0, "\(r.err)")
        // Another program holds the REST API's port.
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/service.json"))) as! [String: Any]
        let rest = ((config["api"] as! [String: Any])["restapi"] as! [String: Any])["http_listen_multiaddress"] as! [String]
        let port = Int(rest[0].split(separator: "/").last!)!
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let held = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        try #require(held && listen(fd, 1) == 0)
        let d = try DaemonProcessTests.Daemon(root)
        defer { if d.process.isRunning { d.process.terminate() } }
        #expect(await LocalCluster.eventually(timeout: .seconds(60)) { !d.process.isRunning }, "the daemon kept running: \(d.log.suffix(2000))")
        #expect(d.process.terminationStatus == 1)
        #expect(d.log.contains(
            "Error: the REST API cannot listen on 127.0.0.1:\(port): another program uses that port. Stop it, or set api.restapi.http_listen_multiaddress[0] to a free address"),
            "\(d.log.suffix(2000))")
        #expect(!d.output.contains("ready"), "a ready block was printed: \(d.output)")
    }
}

/// ipfs-cluster-ctl's pin flags and exit codes through a daemon process.
@Suite(.serialized) struct CtlWaitTests {
    @Test("pin add -w --wl and /ipfs/ paths; a --wait that times out exits 62 saying the pin stays; pin rm -w --wt")
    func waitFlagsAndExitCodes() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-wait-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try CLITests.run("pinmesh", ["init", "--config", root + "/p", "--randomports", "--peername", "p"])
        #expect(r.status == 0, "\(r.err)")
        let d = try DaemonProcessTests.Daemon(root + "/p")
        defer { if d.process.isRunning { d.process.terminate() } }
        #expect(await d.ready(), "the daemon did not start: \(d.log)")
        let api = try #require(d.field("REST API"))
        // A file the peer holds: pinned through its /ipfs/ path, waiting for one peer.
        let file = root + "/hello.txt"
        try Data("hello from the wait test \(UInt64.random(in: 0...UInt64.max))\n".utf8).write(to: URL(fileURLWithPath: file))
        let added = try CLITests.run("pinmeshctl", ["-l", api, "add", "-Q", "--no-pin", file])
        #expect(added.status == 0, "\(added.err)")
        let cid = added.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let pinned = try CLITests.run("pinmeshctl", ["-l", api, "pin", "add", "/ipfs/\(cid)", "-w", "--wl", "1", "--wt", "30s"])
        #expect(pinned.status == 0 && pinned.out.contains("PINNED"), "\(pinned)")
        #expect(pinned.err.contains("waiting until \(cid) is pinned on 1 peer"), "\(pinned.err)")
        // Content nobody has: the wait times out with ipfs-cluster-ctl's code 62.
        let nobody = CID.v1(codec: .raw, .sha256((0..<64).map { _ in UInt8.random(in: 0...255) })).description
        let timedOut = try CLITests.run("pinmeshctl", ["-l", api, "pin", "add", nobody, "--wait", "--wait-timeout", "2s"])
        #expect(timedOut.status == 62, "\(timedOut)")
        #expect(timedOut.err.contains("Error: not pinned on every allocated peer after 2s; the pin stays and goes on"), "\(timedOut.err)")
        // Unpin with a bounded wait.
        let removed = try CLITests.run("pinmeshctl", ["-l", api, "pin", "rm", "/ipfs/\(cid)", "-w", "--wt", "30s"])
        #expect(removed.status == 0, "\(removed)")
        #expect(removed.err.contains("waiting until every peer unpinned \(cid)"), "\(removed.err)")
    }
}
