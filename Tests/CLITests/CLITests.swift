import ClusterModel
import ClusterTestKit
import Datastore
import Foundation
import Node
import Testing

/// The three executables answer `--help`, `--version` and `version` with one version string.
@Suite struct CLITests {
    static let binDir: URL = {
        // The test bundle sits beside the built executables.
        let candidates = [
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
            Vectors.repositoryRoot.appendingPathComponent(".build/debug"),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("pinmesh").path) } ?? candidates[2]
    }()

    static func run(_ tool: String, _ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = binDir.appendingPathComponent(tool)
        p.arguments = args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test(arguments: ["pinmesh", "pinmeshctl", "pinmesh-bench"])
    func helpAndVersion(_ tool: String) throws {
        let help = try Self.run(tool, ["--help"])
        #expect(help.status == 0)
        #expect(help.out.contains("USAGE: \(tool)"))
        #expect(try Self.run(tool, ["--version"]).out == PinMeshVersion.string + "\n")
        if tool != "pinmeshctl" {  // `pinmeshctl version` asks the API (CtlDaemonCommandsTests)
            #expect(try Self.run(tool, ["version"]).out == PinMeshVersion.string + "\n")
        }
        let bad = try Self.run(tool, ["no-such-command"])
        #expect(bad.status != 0)
    }

    /// swift-argument-parser's bash completion, exercised the way bash calls it: the words typed
    /// so far in COMP_WORDS, the function's answer in COMPREPLY.
    @Test func shellCompletionOffersCommandsAndFlags() throws {
        let script = try Self.run("pinmeshctl", ["--generate-completion-script", "bash"])
        #expect(script.status == 0 && script.out.contains("complete") && script.out.contains("_pinmeshctl()"))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pinmeshctl-completion-\(getpid()).bash")
        try script.out.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        func complete(_ words: [String]) throws -> [String] {
            let line = words.joined(separator: " ")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = [
                "-c",
                "source \"$1\"; COMP_WORDS=(\(words.map { "'\($0)'" }.joined(separator: " "))); COMP_CWORD=\(words.count - 1); "
                    + "COMP_LINE='\(line)'; COMP_POINT=${#COMP_LINE}; _pinmeshctl pinmeshctl '\(words.last!)' '\(words[words.count - 2])'; "
                    + "printf '%s\\n' \"${COMPREPLY[@]}\"",
                "bash", file.path,
            ]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        #expect(try complete(["pinmeshctl", "pi"]) == ["pin"])
        #expect(try complete(["pinmeshctl", "health", "b"]) == ["bandwidth"])
        let flags = try complete(["pinmeshctl", "add", "--rep"])
        #expect(flags.contains("--replication") && flags.contains("--replication-min"), "\(flags)")
        #expect(try complete(["pinmeshctl", "status", "--fil"]) == ["--filter"])
        for shell in ["zsh", "fish"] {
            let other = try Self.run("pinmeshctl", ["--generate-completion-script", shell])
            #expect(other.status == 0 && other.out.contains("pinmeshctl") && other.out.contains("bandwidth"), "\(shell)")
        }
    }

    @Test("--randomports never hands one port out twice, within one init or across the inits of a local cluster")
    func randomPortsAreDistinct() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-ports-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var perPeer: [Set<String>] = []
        for i in 1...4 {
            let r = try Self.run("pinmesh", ["init", "--config", "\(root)/p\(i)", "--randomports", "--peername", "p\(i)"])
            #expect(r.status == 0, "\(r.err)")
            var ports = Set<String>()
            for file in ["service.json", "ipfs/config"] {
                let text = try String(contentsOfFile: "\(root)/p\(i)/\(file)", encoding: .utf8)
                let regex = try NSRegularExpression(pattern: #"\\?/(?:tcp|udp)\\?/([0-9]+)"#)  // kubo's config escapes "/"
                for m in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    ports.insert(String(text[Range(m.range(at: 1), in: text)!]))
                }
            }
            perPeer.append(ports)
        }
        // Per peer: cluster (TCP and UDP share it), REST, proxy, pinning service, IPFS API (in
        // both files), metrics, swarm, gateway: 8 ports, all different, and none another peer's.
        for ports in perPeer { #expect(ports.count == 8, "\(ports.sorted())") }
        let all = perPeer.reduce(Set<String>()) { $0.union($1) }
        #expect(all.count == 32, "a port was handed out twice: \(perPeer.map { $0.sorted() })")
    }

    @Test func initWritesAConfigThatLoadsAndKeepsTheIdentity() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-init-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try Self.run("pinmesh", ["init", "--config", dir, "--randomports", "--peername", "alpha"])
        #expect(first.status == 0, "\(first.err)")
        let service = try ServiceConfig.load(Data(contentsOf: URL(fileURLWithPath: dir + "/service.json")), environment: [:])
        #expect(service.cluster.peername == "alpha")
        #expect(service.api.restapi.httpListenMultiaddress != ["/ip4/127.0.0.1/tcp/9094"])
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/identity.json")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let identity = try String(contentsOfFile: dir + "/identity.json", encoding: .utf8)
        // A second init refuses to overwrite; with --force it rewrites service.json and keeps
        // the identity and, given --secret, uses that secret.
        let again = try Self.run("pinmesh", ["init", "--config", dir])
        #expect(again.status != 0)
        #expect(again.err.contains("--force"))
        let secret = String(repeating: "0f", count: 32)
        let forced = try Self.run("pinmesh", ["init", "--config", dir, "--force", "--secret", secret, "--peers", "/ip4/10.0.0.1/tcp/9096/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"])
        #expect(forced.status == 0, "\(forced.err)")
        #expect(try String(contentsOfFile: dir + "/identity.json", encoding: .utf8) == identity)
        let reloaded = try ServiceConfig.load(Data(contentsOf: URL(fileURLWithPath: dir + "/service.json")), environment: [:])
        #expect(reloaded.cluster.secret == secret)
        #expect(reloaded.cluster.peerAddresses.count == 1)
        let bad = try Self.run("pinmesh", ["init", "--config", dir, "--force", "--secret", "short"])
        #expect(bad.status != 0)
        #expect(bad.err.contains("cluster.secret"))
    }

    @Test func keyGenerationAndPeerIDForms() throws {
        let gen = try Self.run("pinmesh", ["key", "gen"])
        #expect(gen.status == 0)
        let id = try #require(gen.out.split(separator: "\n").first { $0.hasPrefix("peer_id: ") }).dropFirst("peer_id: ".count)
        #expect(id.hasPrefix("12D3KooW"))
        let forms = try Self.run("pinmesh", ["key", "peer-id", String(id)])
        #expect(forms.status == 0 && forms.out.contains("base58btc: \(id)") && forms.out.contains("cid:       k51"))
        let bad = try Self.run("pinmesh", ["key", "peer-id", "12D3KooWnope"])
        #expect(bad.status != 0 && bad.err.contains("invalid peer ID"))
    }
}

/// `pinmeshctl add --only-hash` against files and trees built here.
@Suite struct AddCommandTests {
    static func tree() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-add-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("d/sub"), withIntermediateDirectories: true)
        try fm.createDirectory(at: root.appendingPathComponent("empty"), withIntermediateDirectories: true)
        try Data("hello world\n".utf8).write(to: root.appendingPathComponent("d/hello"))
        try Data("x".utf8).write(to: root.appendingPathComponent("d/sub/a"))
        try Data("h".utf8).write(to: root.appendingPathComponent("d/.hidden"))
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("d/link").path, withDestinationPath: "hello")
        return root
    }

    @Test func singleFileMatchesKubo() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("d/hello").path
        #expect(try CLITests.run("pinmeshctl", ["add", "--only-hash", file]).out == "added QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o hello\n")
        #expect(try CLITests.run("pinmeshctl", ["add", "--only-hash", "--cid-version", "1", file]).out == "added bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4 hello\n")
        #expect(try CLITests.run("pinmeshctl", ["add", "--only-hash", "--cid-version=1", "--raw-leaves=false", "-Q", file]).out == "bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby\n")
        #expect(try CLITests.run("pinmeshctl", ["add", "--only-hash", "--raw-leaves", "-q", file]).out == "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4\n")
    }

    /// kubo 0.40's option rules from the command line (the goldens: kubo's sharness outputs
    /// for "Hello Mars!\n"), and `--replication -1` parsed as a value, not a flag.
    @Test func hashRulesAndANegativeReplication() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(at: root) }
        let mars = root.appendingPathComponent("mars.txt")
        try Data("Hello Mars!\n".utf8).write(to: mars)
        #expect(try CLITests.run("pinmeshctl", ["add", "--only-hash", "--hash", "blake2b-256", "-Q", "--replication", "-1", mars.path]).out
            == "bafk2bzaceaqcxw46uzkyd2jmczoogof6pnkqt4dpiv3pwkunsv4g5rkkmecie\n")
        let refused = try CLITests.run("pinmeshctl", ["add", "--only-hash", "--hash", "sha2-512", "--cid-version", "0", mars.path])
        #expect(refused.status != 0 && refused.err.contains("CIDv0 only supports sha2-256"))
    }

    @Test func recursiveOrderHiddenSymlinksAndWrap() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(at: root) }
        let d = root.appendingPathComponent("d").path, empty = root.appendingPathComponent("empty").path
        let out = try CLITests.run("pinmeshctl", ["add", "--only-hash", "-r", d, empty]).out.split(separator: "\n").map { $0.split(separator: " ").last! }
        #expect(out == ["d/hello", "d/link", "d/sub/a", "d/sub", "d", "empty"])
        let lines = try CLITests.run("pinmeshctl", ["add", "--only-hash", "-r", empty]).out
        #expect(lines == "added QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn empty\n")
        let hidden = try CLITests.run("pinmeshctl", ["add", "--only-hash", "-r", "-H", d]).out
        #expect(hidden.contains(" d/.hidden\n"))
        #expect(!(try CLITests.run("pinmeshctl", ["add", "--only-hash", "-r", d]).out.contains(".hidden")))
        let wrapped = try CLITests.run("pinmeshctl", ["add", "--only-hash", "-w", root.appendingPathComponent("d/hello").path]).out
        // The wrapper's CID from the independent implementation behind Specs/vectors/unixfs-derived.json.
        #expect(wrapped == "added QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o hello\nadded QmYRMUVULBfj7WrdPESnwnyZmtayN6Sdrwh1nKcQ9QgQeZ\n")
    }

    @Test func standardInputAndErrors() throws {
        let p = Process()
        p.executableURL = CLITests.binDir.appendingPathComponent("pinmeshctl")
        p.arguments = ["add", "--only-hash", "-Q"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        input.fileHandleForWriting.write(Data("hello world\n".utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(text == "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n")

        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(at: root) }
        let noR = try CLITests.run("pinmeshctl", ["add", "--only-hash", root.path])
        #expect(noR.status == 1 && noR.err.contains("use the '-r' flag"))
        let missing = try CLITests.run("pinmeshctl", ["add", "--only-hash", root.appendingPathComponent("nope").path])
        #expect(missing.status == 1 && missing.err.contains("cannot read"))
        let badChunker = try CLITests.run("pinmeshctl", ["add", "--only-hash", "--chunker", "size-0", root.path])
        #expect(badChunker.status == 64 && badChunker.err.contains("chunk"))
        // Without --only-hash the files go to the API: none listens on port 1.
        let noNode = try CLITests.run("pinmeshctl", ["add", "--host", "/ip4/127.0.0.1/tcp/1", "--timeout", "2", root.appendingPathComponent("d/hello").path])
        #expect(noNode.status == 2 && noNode.err.contains("cannot reach the PinMesh API: nothing listens at"), "\(noNode)")
    }
}

@Suite struct AddProfileTests {
    @Test func profileDefaultsAndOverrides() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-profile-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("f")
        var rng = SeededRandom(seed: 1)
        try Data(rng.bytes(2_000_000)).write(to: file)
        let v1profile = try CLITests.run("pinmeshctl", ["add", "--only-hash", "-Q", "--profile", "unixfs-v1-2025", file.path]).out
        let v1flags = try CLITests.run("pinmeshctl", ["add", "--only-hash", "-Q", "--cid-version", "1", "--chunker", "size-1048576", file.path]).out
        #expect(v1profile.hasPrefix("bafy") && v1profile == v1flags)
        // An explicit chunker overrides the profile's, even when it is the old default.
        let overridden = try CLITests.run("pinmeshctl", ["add", "--only-hash", "-Q", "--profile", "unixfs-v1-2025", "--chunker", "size-262144", file.path]).out
        let plainV1 = try CLITests.run("pinmeshctl", ["add", "--only-hash", "-Q", "--cid-version", "1", file.path]).out
        #expect(overridden == plainV1 && overridden != v1profile)
    }
}

/// `pinmesh state`: export, import, crdt info and cleanup on a peer directory.
@Suite struct StateCLITests {
    @Test func importExportInfoCleanup() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let identity = dir.appendingPathComponent("identity.json").path
        #expect(try CLITests.run("pinmesh", ["key", "gen", "--write", identity]).status == 0)
        let mode = try FileManager.default.attributesOfItem(atPath: identity)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try CLITests.run("pinmesh", ["key", "gen", "--write", identity]).status != 0)  // never overwrites

        // Import: a bad line imports nothing and names the line.
        let pins = (0..<300).map { PinsetFixtures.pin($0, name: "file \($0)") }
        let encoder = JSONEncoder()
        var lines = try pins.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        let file = dir.appendingPathComponent("pins.ndjson").path
        try (lines.prefix(5).joined(separator: "\n") + "\n{\"cid\": \"nope\"}\n").write(toFile: file, atomically: true, encoding: .utf8)
        let bad = try CLITests.run("pinmesh", ["state", "import", "--config", dir.path, "-f", file])
        #expect(bad.status != 0 && bad.err.contains("line 6"))
        let afterBad = try CLITests.run("pinmesh", ["state", "export", "--config", dir.path])
        #expect(afterBad.out.isEmpty)

        lines.shuffle()
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let ok = try CLITests.run("pinmesh", ["state", "import", "--config", dir.path, "-f", file])
        #expect(ok.status == 0, "\(ok.err)")

        // Export gives back exactly the pins, in CID order.
        let export = try CLITests.run("pinmesh", ["state", "export", "--config", dir.path])
        #expect(export.status == 0)
        let back = try export.out.split(separator: "\n").map { try JSONDecoder().decode(Pin.self, from: Data($0.utf8)) }
        #expect(back == pins.sorted { $0.cid < $1.cid })

        let info = try CLITests.run("pinmesh", ["state", "crdt", "info", "--config", dir.path])
        #expect(info.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(info.out.utf8)) as? [String: Any]
        #expect(object?["pins"] as? Int == 300)
        #expect((object?["heads"] as? [String])?.count == 1)

        // The DAG as Graphviz DOT: one node per delta, the head drawn double.
        let dot = try CLITests.run("pinmesh", ["state", "crdt", "dot", "--config", dir.path])
        #expect(dot.status == 0 && dot.out.hasPrefix("digraph pinset {") && dot.out.hasSuffix("}\n"))
        #expect(dot.out.components(separatedBy: "[label=").count - 1 == (object?["dag_nodes"] as? Int))
        #expect(dot.out.components(separatedBy: "peripheries=2").count - 1 == 1)
        #expect(dot.out.contains("+300 −0 ~0") || dot.out.contains(" −0 ~0"))

        // ipfs-cluster-service's overrides: -f is --force, the file an argument, every pin's
        // replication and allocations set; bad values are refused before anything is written.
        let peer = PinsetFixtures.peer(40)
        let over = try CLITests.run("pinmesh", ["state", "import", "--config", dir.path, "-f", "--rmin", "1", "-rmax", "2", "--allocs", peer.description, file])
        #expect(over.status == 0, "\(over.err)")
        let overridden = try CLITests.run("pinmesh", ["state", "export", "--config", dir.path]).out.split(separator: "\n")
            .map { try JSONDecoder().decode(Pin.self, from: Data($0.utf8)) }
        #expect(overridden.count == 300)
        #expect(overridden.allSatisfy { $0.options.replicationFactorMin == 1 && $0.options.replicationFactorMax == 2 && $0.allocations == [peer] })
        for (args, says) in [
            (["--rmin", "3", "--rmax", "2"], "line 1: replication_factor_min 3 and replication_factor_max 2 do not fit together"),
            (["--rmin", "-1", "--rmax", "2"], "do not fit together"),
            (["--rmin", "1025"], "--replication-min must be -1 (everywhere), 0 (keep each pin's) or 1 to 1024, not 1025"),
            (["--allocations", "nope"], "--allocations: \"nope\" is not a peer ID"),
        ] {
            let refused = try CLITests.run("pinmesh", ["state", "import", "--config", dir.path] + args + [file])
            #expect(refused.status != 0 && refused.err.contains(says), "\(args): \(refused.err)")
        }
        #expect(try CLITests.run("pinmesh", ["state", "export", "--config", dir.path]).out.split(separator: "\n").count == 300)

        #expect(try CLITests.run("pinmesh", ["state", "cleanup", "--config", dir.path, "--force"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("pinset.sqlite").path))
        #expect(try CLITests.run("pinmesh", ["state", "export", "--config", dir.path]).status != 0)
    }
}

extension StateCLITests {
    /// `kill -9` in the middle of an import: every transaction the importer reported as
    /// committed is there, nothing of a half-written one is, and the database is intact.
    @Test func killNineDuringImportLosesNothingAcknowledged() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try CLITests.run("pinmesh", ["key", "gen", "--write", dir.appendingPathComponent("identity.json").path]).status == 0)
        let encoder = JSONEncoder()
        let total = 10_000, batch = 200
        let lines = try (0..<total).map { String(decoding: try encoder.encode(PinsetFixtures.pin($0)), as: UTF8.self) }
        let file = dir.appendingPathComponent("pins.ndjson").path
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)

        let p = Process()
        p.executableURL = CLITests.binDir.appendingPathComponent("pinmesh")
        p.arguments = ["state", "import", "--config", dir.path, "-f", file, "--batch", "\(batch)", "--progress"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // Wait (bounded by the import itself) for the third committed transaction, then kill.
        var acknowledged = 0
        var text = ""
        while acknowledged < 3 * batch {
            let chunk = err.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            text += String(decoding: chunk, as: UTF8.self)
            let reported = text.split(separator: "\n").compactMap { line -> Int? in
                guard line.hasPrefix("committed ") else { return nil }
                return Int(line.split(separator: " ")[1])
            }
            acknowledged = reported.max() ?? 0
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal, "the import finished before it could be killed; raise the pin count")
        #expect(acknowledged >= 3 * batch)

        let db = try PinsetDatabase(path: dir.appendingPathComponent("pinset.sqlite").path)
        #expect(try db.integrityCheck() == "ok")
        let count = try db.count()
        #expect(count >= acknowledged, "acknowledged \(acknowledged) pins, found \(count)")
        #expect(count % batch == 0, "a transaction was half written: \(count) pins")
        #expect(try db.info().heads.count == 1)
    }
}
