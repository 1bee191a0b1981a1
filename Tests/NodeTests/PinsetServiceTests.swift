import ClusterModel
import ClusterTestKit
import Datastore
import Foundation
import Multiformats
import NIOCore
import NIOPosix
import Node
import Pinset
import SecureChannel
import Sodium
import Testing
import Transport

/// The shared pinset over the real transport and pubsub, on 127.0.0.1 with OS-assigned
/// ports and databases in temporary directories. Waits are bounded, never sleeps.
@Suite struct PinsetServiceTests {
    struct Peer {
        let key: Ed25519.PrivateKey
        let transport: SecureTransport
        let pubsub: PubSubService
        let pinset: PinsetService
        let database: PinsetDatabase
        let address: Multiaddr
        let dir: URL
    }

    static func settings(trust: TrustPolicy = .everyone, maxQueue: Int = 100_000) -> PinsetService.Settings {
        var s = PinsetService.Settings()
        s.batching.maxQueue = maxQueue
        s.clusterName = "test"
        s.trust = trust
        s.announceInterval = .milliseconds(200)
        s.batching.maxAgeMillis = 2
        return s
    }

    static func peer(key: Ed25519.PrivateKey = .generate(), trust: TrustPolicy = .everyone, dir: URL? = nil, maxQueue: Int = 100_000) async throws -> Peer {
        let dir = dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("pinset-node-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let transport = SecureTransport(
            settings: HandshakeSettings(clusterSecret: PubSubServiceTests.secret, identity: key), group: PubSubServiceTests.group)
        let pubsub = try PubSubService(transport: transport, identity: key)
        await pubsub.start()
        let database = try PinsetDatabase(path: dir.appendingPathComponent("pinset.sqlite").path)
        let pinset = try PinsetService(database: database, transport: transport, pubsub: pubsub, identity: key, settings: settings(trust: trust, maxQueue: maxQueue))
        try await pinset.start()
        let port = try await transport.listen()
        return Peer(
            key: key, transport: transport, pubsub: pubsub, pinset: pinset, database: database,
            address: try Multiaddr("/ip4/127.0.0.1/tcp/\(port)/p2p/\(transport.localPeer)"), dir: dir)
    }

    static func connect(_ peers: [Peer]) async throws {
        for i in peers.indices { for j in peers.indices where j > i { _ = try await peers[i].transport.dial(peers[j].address) } }
    }

    static func stop(_ peers: [Peer], removeFiles: Bool = true) async {
        for p in peers {
            await p.pinset.stop()
            await p.pubsub.stop()
            await p.transport.shutdown()
            try? p.database.close()
            if removeFiles { try? FileManager.default.removeItem(at: p.dir) }
        }
    }

    static func pins(_ p: Peer) -> [CID: Pin] {
        var out: [CID: Pin] = [:]
        try? p.database.forEachPin { out[$0.cid] = $0 }
        return out
    }

    @Test func pinsReachEveryPeerAndRemovalsToo() async throws {
        let peers = [try await Self.peer(), try await Self.peer(), try await Self.peer()]
        try await Self.connect(peers)
        for p in peers { #expect(await p.pubsub.waitForPeers(subscribedTo: "pinset/test", count: 2, timeout: .seconds(5))) }
        try await peers[0].pinset.pin((0..<250).map { PinsetFixtures.pin($0) })
        try await peers[1].pinset.pin([PinsetFixtures.pin(1_000, name: "from one")])
        #expect(await PubSubServiceTests.eventually { peers.allSatisfy { Self.pins($0).count == 251 } })
        try await peers[2].pinset.unpin([PinsetFixtures.cid(3), PinsetFixtures.cid(1_000)])
        #expect(await PubSubServiceTests.eventually { peers.allSatisfy { Self.pins($0).count == 249 } })
        let reference = Self.pins(peers[0])
        for p in peers { #expect(Self.pins(p) == reference) }
        #expect(Set(await peers[1].pinset.currentHeads) == Set(await peers[0].pinset.currentHeads))
        await Self.stop(peers)
    }

    /// A peer that joins late catches up from announcements alone, and one restarted from its
    /// database keeps what it had and fetches only what it missed.
    @Test func lateAndRestartedPeersCatchUp() async throws {
        let a = try await Self.peer()
        let b = try await Self.peer()
        try await Self.connect([a, b])
        try await a.pinset.pin((0..<500).map { PinsetFixtures.pin($0) })
        #expect(await PubSubServiceTests.eventually { Self.pins(b).count == 500 })
        // b goes away; a keeps writing.
        let bKey = b.key, bDir = b.dir
        await Self.stop([b], removeFiles: false)
        try await a.pinset.pin((500..<800).map { PinsetFixtures.pin($0) })
        try await a.pinset.unpin([PinsetFixtures.cid(0)])
        // b comes back with its database; c is brand new. Neither is told to sync: the
        // periodic announcement is enough.
        let b2 = try await Self.peer(key: bKey, dir: bDir)
        #expect(Self.pins(b2).count == 500)
        let c = try await Self.peer()
        try await Self.connect([a, b2, c])
        #expect(await PubSubServiceTests.eventually(timeout: .seconds(30)) { Self.pins(b2).count == 799 && Self.pins(c).count == 799 })
        #expect(Self.pins(b2) == Self.pins(a))
        #expect(Self.pins(c) == Self.pins(a))
        await Self.stop([a, b2, c])
    }

    @Test func untrustedWritersChangeNothing() async throws {
        let trustedKey = Ed25519.PrivateKey.generate()
        let trustedID = try PeerID(ed25519PublicKey: trustedKey.publicKey.bytes)
        let a = try await Self.peer(key: trustedKey, trust: .peers([trustedID]))
        let reader = try await Self.peer(trust: .peers([trustedID]))
        let mallory = try await Self.peer()  // trusts everyone, writes its own deltas
        try await Self.connect([a, reader, mallory])
        try await mallory.pinset.pin([PinsetFixtures.pin(666)])
        try await a.pinset.pin([PinsetFixtures.pin(1)])
        #expect(await PubSubServiceTests.eventually { Self.pins(reader).keys.contains(PinsetFixtures.cid(1)) })
        // Give mallory's announcements time to arrive (several announce intervals).
        #expect(await PubSubServiceTests.eventually { await reader.pinset.stats.nodesRefused > 0 })
        #expect(Array(Self.pins(reader).keys) == [PinsetFixtures.cid(1)])
        #expect(Array(Self.pins(a).keys) == [PinsetFixtures.cid(1)])
        // Mallory itself trusts everyone: it reads the trusted peer's pins too.
        #expect(await PubSubServiceTests.eventually { Self.pins(mallory).count == 2 })
        await Self.stop([a, reader, mallory])
    }

    /// A write that does not fit the queue is refused whole, with the setting named.
    @Test func aWriteOverTheQueueLimitIsRefusedWhole() async throws {
        let a = try await Self.peer(maxQueue: 10)
        try await a.pinset.pin((0..<10).map { PinsetFixtures.pin($0) })  // exactly at the limit
        do {
            try await a.pinset.pin((10..<21).map { PinsetFixtures.pin($0) })
            Issue.record("accepted a write over max_queue")
        } catch let e as PinsetError {
            #expect(e.code == .queueFull && e.message.contains("max_queue"))
        }
        #expect(Self.pins(a).count == 10)
        await Self.stop([a])
    }

    @Test func malformedFetchesGetAnErrorNotACrash() async throws {
        let a = try await Self.peer(), b = try await Self.peer()
        try await Self.connect([a, b])
        let conn = try #require(b.transport.connection(to: a.transport.localPeer))
        for garbage in [[], [0xff], [0xa1, 0x61, 0x78, 0x01], PinsetFetchRequest(want: [], have: []).encoded() + [0]] as [[UInt8]] {
            await #expect(throws: (any Error).self) { _ = try await conn.call(PinsetService.fetchMethod, garbage) }
        }
        let empty = try PinsetFetchResponse(decoding: try await conn.call(PinsetService.fetchMethod, PinsetFetchRequest(have: []).encoded()))
        #expect(empty.nodes.isEmpty && empty.remaining == 0)
        await Self.stop([a, b])
    }
}

extension PinsetServiceTests {
    /// A peer makes a snapshot; a new peer starts from it (no history below it is fetched),
    /// then fetches the deltas made after it; a third new peer bootstraps from the second,
    /// which holds no history, only the snapshot it loaded.
    @Test func newPeersStartFromASnapshot() async throws {
        let a = try await Self.peer()
        try await a.pinset.pin((0..<700).map { PinsetFixtures.pin($0) })
        try await a.pinset.unpin([PinsetFixtures.cid(1)])
        let snapshot = try #require(try await a.pinset.makeSnapshot())
        try await a.pinset.pin((700..<800).map { PinsetFixtures.pin($0) })

        let b = try await Self.peer()
        try await Self.connect([a, b])
        try await b.pinset.sync(from: a.transport.localPeer)
        #expect(await b.pinset.stats.snapshotsLoaded == 1)
        #expect(Self.pins(b) == Self.pins(a))
        #expect(Self.pins(b).count == 799)
        // Only the deltas after the snapshot were fetched: b holds the snapshot's heads as
        // stubs and the deltas after them.
        #expect(try b.database.info().dagBytes <= a.database.info().dagBytes)
        #expect(await b.pinset.stats.nodesApplied == 1)  // the one delta after the snapshot
        #expect(try b.database.latestSnapshot()?.cid == snapshot)

        // c joins through b alone.
        let c = try await Self.peer()
        _ = try await c.transport.dial(b.address)
        try await c.pinset.sync(from: b.transport.localPeer)
        #expect(Self.pins(c) == Self.pins(a))
        // And the cluster keeps converging on new writes from the newest peer.
        try await c.pinset.pin([PinsetFixtures.pin(5_000)])
        try await Self.connect([a, c])
        let converged = await PubSubServiceTests.eventually { Self.pins(a).count == 800 && Self.pins(b).count == 800 }
        #expect(converged)
        if !converged {
            let expected = Set((0..<800).filter { $0 != 1 }.map { PinsetFixtures.cid($0) } + [PinsetFixtures.cid(5_000)])
            let extra = Set(Self.pins(a).keys).subtracting(expected)
            print("extra: \(extra.map { k in (0..<6000).first { PinsetFixtures.cid($0) == k } as Any })")
            for (n, p) in [("a", a), ("b", b), ("c", c)] {
                print("\(n): pins \(Self.pins(p).count) stats \(await p.pinset.stats) state \(await p.pinset.snapshotState) heads \(await p.pinset.currentHeads)")
            }
        }
        await Self.stop([a, b, c])
    }

    @Test func aTamperedOrUntrustedSnapshotIsRefused() async throws {
        let aKey = Ed25519.PrivateKey.generate()
        let a = try await Self.peer(key: aKey)
        try await a.pinset.pin((0..<50).map { PinsetFixtures.pin($0) })
        try await a.pinset.makeSnapshot()
        // b trusts only itself: a's snapshot (and deltas) must not load.
        let bKey = Ed25519.PrivateKey.generate()
        let b = try await Self.peer(key: bKey, trust: .peers([try PeerID(ed25519PublicKey: bKey.publicKey.bytes)]))
        try await Self.connect([a, b])
        await #expect(throws: PinsetError.self) { try await b.pinset.sync(from: a.transport.localPeer) }
        #expect(Self.pins(b).isEmpty)
        await Self.stop([a, b])
    }
}

extension PinsetServiceTests {
    /// The snapshot's maker drops the history below it once every live peer acknowledged
    /// it; the state stays the same everywhere, and a new peer still joins through the
    /// compacted peer (from the snapshot, then the deltas after it).
    @Test func historyBelowAnAcknowledgedSnapshotIsDropped() async throws {
        let peers = [try await Self.peer(), try await Self.peer(), try await Self.peer()]
        try await Self.connect(peers)
        for p in peers { #expect(await p.pubsub.waitForPeers(subscribedTo: "pinset/test", count: 2, timeout: .seconds(5))) }
        for batch in 0..<5 { try await peers[batch % 3].pinset.pin((batch * 100..<(batch + 1) * 100).map { PinsetFixtures.pin($0) }) }
        #expect(await PubSubServiceTests.eventually { peers.allSatisfy { Self.pins($0).count == 500 } })
        let before = try peers[0].database.info().dagBytes
        let snapshot = try #require(try await peers[0].pinset.makeSnapshot())
        try await peers[1].pinset.pin((500..<600).map { PinsetFixtures.pin($0) })
        #expect(await PubSubServiceTests.eventually(timeout: .seconds(30)) { await peers[0].pinset.snapshotState.prunedBelow == snapshot })
        #expect(try peers[0].database.info().dagBytes < before / 2)
        #expect(await peers[0].pinset.stats.nodesPruned > 0)
        #expect(await PubSubServiceTests.eventually { peers.allSatisfy { Self.pins($0).count == 600 } })
        for p in peers.dropFirst() { #expect(Self.pins(p) == Self.pins(peers[0])) }

        let late = try await Self.peer()
        _ = try await late.transport.dial(peers[0].address)
        try await late.pinset.sync(from: peers[0].transport.localPeer)
        #expect(await late.pinset.stats.snapshotsLoaded == 1)
        #expect(Self.pins(late) == Self.pins(peers[0]))
        await Self.stop(peers + [late])
    }
}

extension PinsetServiceTests {
    /// A peer that was away while the others compacted comes back with history below the
    /// snapshot: the compacted peer recognises every such node (stubs) and never applies one
    /// again, so a removed value does not come back; the returning peer is told it must be
    /// reset.
    @Test func aReturningPeerCannotResurrectCompactedHistory() async throws {
        let a = try await Self.peer(), b = try await Self.peer()
        let x = try await Self.peer()
        try await Self.connect([a, b, x])
        try await a.pinset.pin((0..<100).map { PinsetFixtures.pin($0) })
        #expect(await PubSubServiceTests.eventually { Self.pins(x).count == 100 && Self.pins(b).count == 100 })
        let xKey = x.key, xDir = x.dir
        await Self.stop([x], removeFiles: false)

        try await a.pinset.unpin([PinsetFixtures.cid(1)])
        let snapshot = try #require(try await a.pinset.makeSnapshot())
        #expect(await PubSubServiceTests.eventually(timeout: .seconds(30)) { await a.pinset.snapshotState.prunedBelow == snapshot })

        let x2 = try await Self.peer(key: xKey, dir: xDir)
        #expect(Self.pins(x2).count == 100)  // still the old state
        try await Self.connect([a, x2])
        try await x2.pinset.sync(from: a.transport.localPeer)
        #expect(await x2.pinset.stats.prunedHistoryAnswers > 0)
        // x2 keeps announcing its old heads; a and b must not take anything from them.
        try await x2.pinset.pin([PinsetFixtures.pin(777)])
        #expect(await PubSubServiceTests.eventually { Self.pins(a)[PinsetFixtures.cid(777)] != nil })
        #expect(Self.pins(a)[PinsetFixtures.cid(1)] == nil)
        #expect(Self.pins(a).count == 100)
        await Self.stop([a, b, x2])
    }
}
