import ClusterModel
import ClusterTestKit
import Foundation
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

    static func run(_ tool: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = binDir.appendingPathComponent(tool)
        p.arguments = args
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
        #expect(try Self.run(tool, ["version"]).out == PinMeshVersion.string + "\n")
        let bad = try Self.run(tool, ["no-such-command"])
        #expect(bad.status != 0)
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
