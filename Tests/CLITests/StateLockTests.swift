import ClusterModel
import ClusterTestKit
import Foundation
import Testing

/// The offline `state` commands refuse while a daemon holds the peer's directory (its
/// `pinset.lock`): an import would be committed but not replicated until a restart, and a
/// cleanup would pull the database from under the daemon.
@Suite(.serialized) struct StateLockTests {
    @Test("state import and state cleanup, with and without --force, refuse while a daemon runs on the directory, and work once it stopped")
    func stateCommandsRefuseWhileADaemonRuns() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-lock-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = "\(root)/p"
        let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let initialized = try CLITests.run("pinmesh", ["init", "--config", dir, "--secret", secret, "--peername", "p", "--randomports"])
        #expect(initialized.status == 0, "\(initialized.err)")
        let file = "\(root)/pins.ndjson"
        let lines = try (0..<3).map { String(decoding: try JSONEncoder().encode(PinsetFixtures.pin($0, name: "locked \($0)")), as: UTF8.self) }
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)

        let d = try DaemonProcessTests.Daemon(dir)
        defer { if d.process.isRunning { d.process.terminate() } }
        #expect(await d.ready(), "the daemon did not start: \(d.log)")

        let refusals = [
            try CLITests.run("pinmesh", ["state", "import", "--config", dir, "-f", file]),
            try CLITests.run("pinmesh", ["state", "cleanup", "--config", dir, "--force"]),
            try CLITests.run("pinmesh", ["state", "cleanup", "--config", dir]),
        ]
        for r in refusals {
            #expect(r.status != 0, "accepted while the daemon runs: \(r.out) \(r.err)")
            #expect(r.err.contains(dir) && r.err.contains("stop the daemon first"), "\(r.err)")
        }
        #expect(FileManager.default.fileExists(atPath: "\(dir)/pinset.sqlite"))

        d.process.terminate()
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) { !d.process.isRunning })
        let imported = try CLITests.run("pinmesh", ["state", "import", "--config", dir, "-f", file])
        #expect(imported.status == 0, "\(imported.err)")
        let export = try CLITests.run("pinmesh", ["state", "export", "--config", dir])
        #expect(export.out.split(separator: "\n").count == 3, "\(export.err)")
        #expect(try CLITests.run("pinmesh", ["state", "cleanup", "--config", dir, "--force"]).status == 0)
    }
}
