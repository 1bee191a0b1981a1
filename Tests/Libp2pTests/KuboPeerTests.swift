import ClusterModel
import ClusterTestKit
import Foundation
import Multiformats
import Testing
import UnixFS

/// A real kubo 0.22 (Tests/Compat/kubo_peer.py) driven from Swift; skipped when python3 or
/// the library (`bash .ci/kubo`) is missing.
@Suite("A real kubo on loopback", .disabled(if: KuboPeer.availability() != nil, Comment(rawValue: KuboPeer.availability() ?? "")))
struct KuboPeerTests {
    @Test("kubo adds a file under the CID PinMesh's importer computes for the same bytes, pins it, and stops cleanly")
    func addMatchesOurImporter() async throws {
        var rng = SplitMix64(seed: 0x6B75_626F)
        let data = rng.bytes(1_000_003)  // four 256 KiB chunks: a root with links
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kubo-peer-test-\(UUID().uuidString).bin")
        try Data(data).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let kubo = try await KuboPeer.start()
        let expected = try FileImporter.importBytes(data, settings: ImportSettings()).root.cid
        let added = try await kubo.add(path: file.path)
        let pins = try await kubo.pins()
        let peers = try await kubo.peers()
        let status = await kubo.stop()

        #expect(added == expected)
        #expect(pins.contains(expected))
        #expect(peers.isEmpty)
        #expect(kubo.id.description.hasPrefix("12D3KooW"))
        #expect(kubo.addrs.allSatisfy { $0.description.hasPrefix("/ip4/127.0.0.1/tcp/") } && !kubo.addrs.isEmpty)
        #expect(status == 0)
        #expect(!FileManager.default.fileExists(atPath: kubo.directory.path))
    }

    @Test("a download nobody can serve fails within its timeout and the peer still answers")
    func boundedDownload() async throws {
        let kubo = try await KuboPeer.start()
        let nobodyHasIt = try CID("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")
        let dest = kubo.directory.appendingPathComponent("none").path
        let started = ContinuousClock.now
        await #expect(throws: KuboPeerError.self) {
            _ = try await kubo.download(cid: nobodyHasIt, to: dest, timeout: .seconds(1))
        }
        let took = ContinuousClock.now - started
        let me = try await kubo.identify()
        #expect(await kubo.stop() == 0)
        #expect(took < .seconds(10))
        #expect(me.id == kubo.id)
    }
}

@Suite("Two real kubos on loopback", .disabled(if: KuboPeer.availability() != nil, Comment(rawValue: KuboPeer.availability() ?? "")))
struct KuboPairTests {
    @Test("one kubo fetches and pins what the other added, over bitswap on 127.0.0.1")
    func exchange() async throws {
        var rng = SplitMix64(seed: 0x7061_6972)
        let data = rng.bytes(600_000)
        let a = try await KuboPeer.start()
        let b = try await KuboPeer.start()
        let file = a.directory.appendingPathComponent("source.bin")
        try Data(data).write(to: file)
        let cid = try await a.add(path: file.path)
        try await b.connect(a.dialAddress)
        let peersOfB = try await b.peers()
        let dest = b.directory.appendingPathComponent("fetched.bin")
        let bytes = try await b.download(cid: cid, to: dest.path)
        let fetched = try Data(contentsOf: dest)
        try await b.pin(cid)
        let pinsOfB = try await b.pins()
        let statuses = [await b.stop(), await a.stop()]

        #expect(peersOfB.contains { $0.description.hasSuffix("/p2p/\(a.id)") })
        #expect(bytes == data.count && [UInt8](fetched) == data)
        #expect(pinsOfB.contains(cid))
        #expect(statuses == [0, 0])
    }
}
