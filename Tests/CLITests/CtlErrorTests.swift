import Foundation
import Testing

/// pinmeshctl's global flags as ipfs-cluster-ctl spells them, and what it says when the API
/// cannot be reached: the host, why, and how to find the right one, within 2 s, in words.
@Suite struct CtlErrorTests {
    static let hint =
        "Is the daemon running? Its REST API address is the 'REST API' line `pinmesh daemon` prints when it is ready; pass it with --host or set PINMESH_API\n"

    /// A loopback listener that never accepts, with its queue filled: further connections get
    /// no answer (the kernel drops their SYNs), as a host behind a firewall that drops packets.
    static func blackHole() throws -> (port: Int, close: () -> Void) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        try #require(bound && listen(fd, 0) == 0)
        let port = Int(UInt16(bigEndian: addr.sin_port))
        // Fill the accept queue (backlog 0 holds one) with connections nobody accepts.
        var fillers: [Int32] = []
        for _ in 0..<2 {
            let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            var target = addr
            _ = withUnsafeMutablePointer(to: &target) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(c, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            fillers.append(c)
        }
        return (port, { for c in fillers + [fd] { Foundation.close(c) } })
    }

    @Test("a port nothing listens on is named at once, in words, with how to find the API")
    func refused() throws {
        let started = ContinuousClock.now
        let r = try CLITests.run("pinmeshctl", ["-l", "http://127.0.0.1:1", "id"])
        #expect(r.status == 2)
        #expect(r.err == "Error: cannot reach the PinMesh API: nothing listens at http://127.0.0.1:1 (connection refused). " + Self.hint)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("a host that does not answer is reported within 2 s of trying, not after a minute")
    func silentHost() throws {
        let hole = try Self.blackHole()
        defer { hole.close() }
        let started = ContinuousClock.now
        let r = try CLITests.run("pinmeshctl", ["--host", "/ip4/127.0.0.1/tcp/\(hole.port)", "id"])
        let took = ContinuousClock.now - started
        #expect(r.status == 2)
        #expect(r.err == "Error: cannot reach the PinMesh API: http://127.0.0.1:\(hole.port) did not accept a connection within 2 s. " + Self.hint, "\(r.err)")
        #expect(took < .seconds(8), "took \(took)")
    }

    @Test("ipfs-cluster-ctl's global flags: -l, -s, -t, -d, --encoding; basic auth implies HTTPS unless -f; CLUSTER_CREDENTIALS")
    func globalFlags() throws {
        let https = try CLITests.run("pinmeshctl", ["-l", "/ip4/127.0.0.1/tcp/1", "-s", "-t", "3", "-d", "--encoding", "json", "id"])
        #expect(https.err.contains("nothing listens at https://127.0.0.1:1"), "\(https.err)")
        let auth = try CLITests.run("pinmeshctl", ["--basic-auth", "user:pass", "-l", "/ip4/127.0.0.1/tcp/1", "peers", "ls"])
        #expect(auth.err.hasPrefix("note: basic auth uses HTTPS; pass --force-http (-f) to send it over HTTP\n"), "\(auth.err)")
        #expect(auth.err.contains("nothing listens at https://127.0.0.1:1"))
        let forced = try CLITests.run("pinmeshctl", ["--basic-auth", "user", "-f", "-l", "/ip4/127.0.0.1/tcp/1", "id"])
        #expect(!forced.err.contains("note:") && forced.err.contains("nothing listens at http://127.0.0.1:1"), "\(forced.err)")
        let env = try CLITests.run("pinmeshctl", ["-l", "/ip4/127.0.0.1/tcp/1", "id"], environment: ["CLUSTER_CREDENTIALS": "user:pass"])
        #expect(env.err.contains("nothing listens at https://127.0.0.1:1"), "\(env.err)")
        let bad = try CLITests.run("pinmeshctl", ["--timeout=-1", "id"])
        #expect(bad.status != 0 && bad.err.contains("--timeout must be 0 (never) or a number of seconds"), "\(bad.err)")
    }
}
