import ClusterTestKit
import Foundation
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
