import ClusterModel
import ClusterTestKit
import Foundation
import Multiformats
import Testing

/// ipfs-cluster-ctl's `version`, `commands`, `health graph -f/--all-ipfs-peers` and PinMesh's
/// `recover --wait` and graph legend, through the binaries.
@Suite struct CtlCommandsTests {
    @Test("commands lists every command as ipfs-cluster-ctl does; each answers --help within 120 columns; it is hidden from the help")
    func commandsListsEveryCommand() throws {
        let r = try CLITests.run("pinmeshctl", ["commands"])
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n").map(String.init)
        for expected in [
            "pinmeshctl id", "pinmeshctl peers", "pinmeshctl peers ls", "pinmeshctl peers rm", "pinmeshctl add", "pinmeshctl pin", "pinmeshctl pin add",
            "pinmeshctl pin rm", "pinmeshctl pin ls", "pinmeshctl pin update", "pinmeshctl status", "pinmeshctl recover", "pinmeshctl health",
            "pinmeshctl health graph", "pinmeshctl health metrics", "pinmeshctl health alerts", "pinmeshctl health bandwidth", "pinmeshctl ipfs",
            "pinmeshctl ipfs gc", "pinmeshctl version", "pinmeshctl commands",
        ] {
            #expect(lines.contains(expected), "\(expected) missing from \(lines)")
        }
        #expect(lines.first == "pinmeshctl id" && lines.last == "pinmeshctl help", "\(lines)")
        #expect(Set(lines).count == lines.count)
        // As ipfs-cluster's sharness test uses the list: each line is a command whose --help
        // fits 120 columns.
        for line in lines {
            let words = Array(line.split(separator: " ").dropFirst().map(String.init))
            let help = try CLITests.run("pinmeshctl", words + ["--help"])
            #expect(help.status == 0 && help.out.contains(line == "pinmeshctl help" ? "USAGE: pinmeshctl" : "USAGE: \(line)"), "\(line) --help: \(help.out) \(help.err)")
            let widest = help.out.split(separator: "\n").map(\.count).max() ?? 0
            #expect(widest <= 120, "\(line) --help is \(widest) columns wide")
        }
        #expect(!(try CLITests.run("pinmeshctl", ["--help"]).out.contains("commands")), "commands is hidden, as in ipfs-cluster-ctl")
    }

    @Test("version with no daemon gives the worded error every command gives, exit 2")
    func versionWithoutADaemon() throws {
        let r = try CLITests.run("pinmeshctl", ["-l", "http://127.0.0.1:1", "version"])
        #expect(r.status == 2)
        #expect(r.err == "Error: cannot reach the PinMesh API: nothing listens at http://127.0.0.1:1 (connection refused). " + CtlErrorTests.hint, "\(r.err)")
        #expect(r.out.isEmpty)
        #expect(try CLITests.run("pinmeshctl", ["--version"]).out == PinMeshVersion.string + "\n", "--version stays pinmeshctl's own")
    }

    /// An HTTP server on loopback answering every request with `body` (JSON), as an
    /// ipfs-cluster REST API would answer one route.
    final class CannedAPI: @unchecked Sendable {
        let fd: Int32
        let port: Int

        init(_ body: String) throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
            }
            guard bound, listen(fd, 8) == 0 else {
                close(fd)
                throw POSIXError(.EADDRNOTAVAIL)
            }
            self.fd = fd
            port = Int(UInt16(bigEndian: addr.sin_port))
            let listener = fd
            let answer = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
            Thread.detachNewThread {
                while true {
                    let c = accept(listener, nil, nil)
                    guard c >= 0 else { return }  // closed
                    var request: [UInt8] = []
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    while !request.suffix(4).elementsEqual("\r\n\r\n".utf8) {
                        let n = read(c, &buffer, buffer.count)
                        guard n > 0 else { break }
                        request += buffer[..<n]
                    }
                    if !request.isEmpty { _ = answer.withUnsafeBytes { write(c, $0.baseAddress, $0.count) } }
                    close(c)
                }
            }
        }

        func stop() {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    @Test("health graph against ipfs-cluster's answer: swarm peers outside the cluster only with --all-ipfs-peers; -f writes the file")
    func graphDrawsOtherIPFSPeersOnlyWhenAsked() throws {
        let (a, b, ia, ib, x) = ("12D3KooWClusterAAAAAAAA", "12D3KooWClusterBBBBBBBB", "12D3KooWDaemonAAAAAAAAA", "12D3KooWDaemonBBBBBBBBB", "12D3KooWStrangerXXXXXXXX")
        let graph = """
            {"cluster_id":"\(a)","id_to_peername":{"\(a)":"one","\(b)":"two"},
             "ipfs_links":{"\(ia)":["\(ib)","\(x)"],"\(ib)":["\(ia)","\(x)"]},
             "cluster_links":{"\(a)":["\(b)"],"\(b)":["\(a)"]},"cluster_trust_links":{"\(a)":true,"\(b)":false},
             "cluster_to_ipfs":{"\(a)":"\(ia)","\(b)":"\(ib)"}}
            """
        let server = try CannedAPI(graph)
        defer { server.stop() }
        let host = "http://127.0.0.1:\(server.port)"
        let plain = try CLITests.run("pinmeshctl", ["-l", host, "health", "graph"])
        #expect(plain.status == 0, "\(plain.err)")
        #expect(plain.out.hasPrefix("digraph cluster {") && plain.out.contains("\"\(a)\" -> \"\(b)\";"), "\(plain.out)")
        #expect(plain.out.contains("\"\(ia)\" -> \"\(ib)\" [color=gray];"), "\(plain.out)")
        #expect(!plain.out.contains(x), "a swarm peer outside the cluster is left out: \(plain.out)")
        #expect(!plain.out.contains("Legend"), "the legend is for --png")
        let all = try CLITests.run("pinmeshctl", ["-l", host, "health", "graph", "--all-ipfs-peers"])
        #expect(all.out.contains("\"\(x)\" [label=\"IPFS peer\\nXXXXXXXX\", shape=ellipse, style=dotted];"), "\(all.out)")
        #expect(all.out.contains("\"\(ia)\" -> \"\(x)\" [color=gray];") && all.out.contains("\"\(ib)\" -> \"\(x)\" [color=gray];"), "\(all.out)")
        // -f (ipfs-cluster-ctl's --file) after the command; a global -f before it is --force-http.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-graph-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).dot").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let toFile = try CLITests.run("pinmeshctl", ["-f", "-l", host, "health", "graph", "-f", file, "--all-ipfs-peers"])
        #expect(toFile.status == 0 && toFile.out.isEmpty, "\(toFile)")
        #expect((try? String(contentsOfFile: file, encoding: .utf8)) == all.out)
        let long = try CLITests.run("pinmeshctl", ["-l", host, "health", "graph", "--file", file])
        #expect(long.status == 0 && (try? String(contentsOfFile: file, encoding: .utf8)) == plain.out)
        let unwritable = try CLITests.run("pinmeshctl", ["-l", host, "health", "graph", "-f", "/nonexistent-dir/g.dot"])
        #expect(unwritable.status != 0 && unwritable.err.contains("cannot write /nonexistent-dir/g.dot: check that its directory exists and is writable"), "\(unwritable)")
    }

    @Test("health graph --png renders the graph with a legend of every kind of node and link")
    func pngHasALegend() throws {
        let graph = """
            {"cluster_id":"12D3KooWClusterAAAAAAAA","id_to_peername":{"12D3KooWClusterAAAAAAAA":"one","12D3KooWClusterBBBBBBBB":"two"},
             "ipfs_links":{"12D3KooWDaemonAAAAAAAAA":[]},"cluster_links":{"12D3KooWClusterAAAAAAAA":["12D3KooWClusterBBBBBBBB"],"12D3KooWClusterBBBBBBBB":[]},
             "cluster_trust_links":{},"cluster_to_ipfs":{"12D3KooWClusterAAAAAAAA":"12D3KooWDaemonAAAAAAAAA"}}
            """
        let server = try CannedAPI(graph)
        defer { server.stop() }
        // A `dot` on PATH that keeps what it was given (and writes a file where the PNG goes).
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-fakedot-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "#!/bin/sh\ncat > \"\(dir)/input.dot\"\nprintf png > \"$3\"\n".write(toFile: dir + "/dot", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir + "/dot")
        let r = try CLITests.run(
            "pinmeshctl", ["-l", "http://127.0.0.1:\(server.port)", "health", "graph", "--png", dir + "/g.png"],
            environment: ["PATH": dir + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")])
        #expect(r.status == 0, "\(r.err)")
        let rendered = try String(contentsOfFile: dir + "/input.dot", encoding: .utf8)
        #expect(rendered.hasPrefix(String(r.out.dropLast(2))), "the rendered graph is the printed one plus the legend")
        #expect(rendered.contains("subgraph cluster_legend {"))
        for label in [
            "cluster peer\\nanswering the API", "trusted\\ncluster peer", "\"cluster peer\"", "IPFS daemon\\nof a cluster peer", "IPFS daemon\\nnot answering",
            "other IPFS peer", "label=\"cluster connection\"", "label=\"its IPFS daemon\"", "label=\"IPFS swarm connection\"", "label=\"daemon missing\"",
        ] {
            #expect(rendered.contains(label), "legend lacks \(label)")
        }
        // Peer two reported no IPFS daemon: drawn as one not answering.
        #expect(r.out.contains("\"12D3KooWClusterBBBBBBBB/ipfs\" [label=\"IPFS\\nnot answering\""), "\(r.out)")
        #expect(FileManager.default.fileExists(atPath: dir + "/g.png"))
        let noDot = try CLITests.run(
            "pinmeshctl", ["-l", "http://127.0.0.1:\(server.port)", "health", "graph", "--png", dir + "/h.png"], environment: ["PATH": "/nonexistent"])
        #expect(noDot.status != 0 && noDot.err.contains("--png needs Graphviz's `dot` (apt-get install graphviz); the dot text was written"), "\(noDot)")
    }
}

/// `version`, `health graph -f` and `recover --wait` through a daemon process.
@Suite(.serialized) struct CtlDaemonCommandsTests {
    @Test("version asks the API; health graph -f; recover --wait re-pins what IPFS lost, times out with 62, and Ctrl-C on a --wait exits 125")
    func versionGraphAndRecoverWait() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-info-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try CLITests.run("pinmesh", ["init", "--config", root + "/p", "--randomports", "--peername", "p"])
        #expect(r.status == 0, "\(r.err)")
        let d = try DaemonProcessTests.Daemon(root + "/p")
        defer { if d.process.isRunning { d.process.terminate() } }
        #expect(await d.ready(), "the daemon did not start: \(d.log)")
        let api = try #require(d.field("REST API"))
        let ipfs = try #require(d.field("IPFS API"))

        let version = try CLITests.run("pinmeshctl", ["-l", api, "version"])
        #expect(version.status == 0 && version.out == PinMeshVersion.string + "\n", "\(version)")
        let json = try CLITests.run("pinmeshctl", ["-l", api, "--enc", "json", "version"])
        #expect(try JSONDecoder().decode([String: String].self, from: Data(json.out.utf8)) == ["version": PinMeshVersion.string], "\(json)")

        let dot = root + "/graph.dot"
        let graph = try CLITests.run("pinmeshctl", ["-l", api, "health", "graph", "-f", dot])
        #expect(graph.status == 0 && graph.out.isEmpty, "\(graph)")
        let written = try String(contentsOfFile: dot, encoding: .utf8)
        #expect(written.hasPrefix("digraph cluster {") && written.contains("\\n") && written.contains("peripheries=2"), "\(written)")

        // A pin the IPFS daemon lost behind the cluster's back: recover --wait pins it again.
        let file = root + "/hello.txt"
        try Data("recover me \(UInt64.random(in: 0...UInt64.max))\n".utf8).write(to: URL(fileURLWithPath: file))
        let added = try CLITests.run("pinmeshctl", ["-l", api, "add", "-Q", file])
        #expect(added.status == 0, "\(added.err)")
        let cid = added.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) {
            (try? CLITests.run("pinmeshctl", ["-l", api, "status", cid]))?.out.contains("PINNED") == true
        })
        _ = try DaemonProcessTests.curl(["-X", "POST", "\(ipfs)/pin/rm?arg=\(cid)"])
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) {
            (try? CLITests.run("pinmeshctl", ["-l", api, "status", cid]))?.out.contains("UNEXPECTEDLY_UNPINNED") == true
        })
        let recovered = try CLITests.run("pinmeshctl", ["-l", api, "recover", cid, "--wait", "--wt", "30s"])
        #expect(recovered.status == 0 && recovered.out.contains("PINNED") && !recovered.out.contains("UNPINNED"), "\(recovered)")
        #expect(recovered.err.contains("waiting until \(cid)'s recovered operations are done"), "\(recovered.err)")
        let nothing = try CLITests.run("pinmeshctl", ["-l", api, "recover", "-w"])
        #expect(nothing.status == 0 && nothing.out.isEmpty, "nothing in error: \(nothing)")

        // Content nobody has stays pinning: the wait times out with exit code 62.
        let nobody = CID.v1(codec: .raw, .sha256((0..<64).map { _ in UInt8.random(in: 0...255) })).description
        #expect(try CLITests.run("pinmeshctl", ["-l", api, "pin", "add", nobody, "--no-status"]).status == 0)
        let stuck = try CLITests.run("pinmeshctl", ["-l", api, "recover", nobody, "--wait", "--wait-timeout", "2s"])
        #expect(stuck.status == 62, "\(stuck)")
        #expect(stuck.err.contains("Error: \(nobody) still has operations queued or running after 2s; they go on"), "\(stuck.err)")

        // Ctrl-C while waiting: exit code 125, saying what goes on (recover and pin add share it).
        for (args, said) in [
            (["recover", nobody, "--wait"], "Error: stopped waiting; the recovered operations go on (`pinmeshctl status \(nobody)` shows them)"),
            (["pin", "add", nobody, "-w"], "Error: stopped waiting; the pin stays in the cluster and goes on (`pinmeshctl status \(nobody)` shows it)"),
        ] {
            let (status, err) = try await Self.interrupted(["-l", api] + args, root: root)
            #expect(status == 125 && err.contains(said), "\(args): \(status) \(err)")
        }
        // Stopped before its directory is removed (a daemon still writing there keeps it).
        d.process.terminate()
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) { !d.process.isRunning })
    }

    /// Runs pinmeshctl until it says it is waiting, then sends it SIGINT (as Ctrl-C does);
    /// its exit status and standard error.
    static func interrupted(_ args: [String], root: String) async throws -> (Int32, String) {
        let err = root + "/ctl-\(UInt32.random(in: 0...UInt32.max)).err"
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let p = Process()
        p.executableURL = CLITests.binDir.appendingPathComponent("pinmeshctl")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle(forWritingAtPath: err)
        try p.run()
        func said() -> String { (try? String(contentsOfFile: err, encoding: .utf8)) ?? "" }
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) { said().contains("waiting until") }, "\(said())")
        kill(p.processIdentifier, SIGINT)
        let stopped = await LocalCluster.eventually(timeout: .seconds(30)) { !p.isRunning }
        #expect(stopped, "SIGINT did not end the wait: \(said())")
        if !stopped {
            p.terminate()
            p.waitUntilExit()
        }
        return (p.terminationStatus, said())
    }
}
