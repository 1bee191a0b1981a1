import ClusterModel
import ClusterTestKit
import EmbeddedIPFS
import Foundation
import Multiformats
import NIOConcurrencyHelpers
import Node
import Pinset
import Sodium
import Testing
import UnixFS

extension Tag {
    /// Real peers on loopback with embedded IPFS nodes: seconds each; `.ci/run` runs them.
    @Tag static var cluster: Self
}

/// Whole peers (transport, pubsub, pinset, monitor, tracker, embedded IPFS over HTTP) on
/// 127.0.0.1. Every wait is bounded by `LocalCluster.eventually`.
@Suite(.tags(.cluster), .serialized) struct ClusterScenarioTests {
    static func file(_ n: Int, size: Int = 600_000) -> [UInt8] {
        var rng = SplitMix64(seed: UInt64(n) &* 0x9E37_79B9 &+ UInt64(Date().timeIntervalSince1970 * 1000))
        return (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// Waits until every running peer sees `count` live peers.
    static func formed(_ c: LocalCluster, _ count: Int) async -> Bool {
        await LocalCluster.eventually {
            for m in c.members where m.running { if await m.peer.monitor.peers().count != count { return false } }
            return true
        }
    }

    static func statuses(_ c: LocalCluster, _ cid: CID, from i: Int = 0) async -> [String: TrackerStatus] {
        await c[i].peer.status(cid).peerMap.mapValues(\.status)
    }

    static func ipfsPinned(_ m: LocalCluster.Member, _ cid: CID) -> Bool {
        if case .pinned = (try? m.repo.pinState(cid)) ?? .notPinned { return true }
        return false
    }

    @Test func aPinIsPinnedOnItsAllocationsRemoteElsewhereThenUnpinned() async throws {
        let c = try await LocalCluster(peers: 3)
        defer { Task { await c.shutdown() } }
        #expect(await Self.formed(c, 3))
        let cid = try await c.addFile(Self.file(1), to: 0)
        var o = PinOptions()
        o.replicationFactorMin = 2
        o.replicationFactorMax = 2
        o.name = "two copies"
        let pin = try await c[1].peer.pin(cid, options: o)
        #expect(pin.allocations.count == 2)
        let allocated = Set(pin.allocations)
        // Every peer learns the pin; the allocated ones pin it (fetching blocks from peer 0 when
        // they are not peer 0), the other reports remote.
        #expect(try await LocalCluster.eventually {
            let s = await Self.statuses(c, cid, from: 2)
            return s.count == 3 && s.values.filter { $0 == .pinned }.count == 2 && s.values.filter { $0 == .remote }.count == 1
        })
        for m in c.members {
            #expect(Self.ipfsPinned(m, cid) == allocated.contains(m.id), "peer \(m.index)")
            #expect(try await m.peer.pinned(cid)?.name == "two copies")
        }
        // Streamed status of everything agrees.
        let all = NIOLockedValueBox<[GlobalPinInfo]>([])
        try await c[0].peer.statusAll { g in all.withLockedValue { $0.append(g) } }
        #expect(all.withLockedValue { $0.count == 1 && $0.first?.peerMap.count == 3 })
        let local = NIOLockedValueBox<[GlobalPinInfo]>([])
        try await c[2].peer.statusAll(local: true, filter: [.pinned]) { g in local.withLockedValue { $0.append(g) } }
        #expect(local.withLockedValue { $0.count } == (allocated.contains(c[2].id) ? 1 : 0))

        // Unpin from the third peer: every daemon lets go.
        try await c[2].peer.unpin(cid)
        #expect(await LocalCluster.eventually { c.members.allSatisfy { !Self.ipfsPinned($0, cid) } })
        #expect(await LocalCluster.eventually { await Self.statuses(c, cid).values.allSatisfy { $0 == .unpinned } })
        await #expect(throws: ClusterError.self) { try await c[0].peer.unpin(cid) }
    }

    @Test func replicationEverywherePinUpdateAndExpiry() async throws {
        let c = try await LocalCluster(peers: 3)
        defer { Task { await c.shutdown() } }
        #expect(await Self.formed(c, 3))
        let a = try await c.addFile(Self.file(2, size: 3_000), to: 0)
        let b = try await c.addFile(Self.file(3, size: 3_000), to: 1)
        // -1: every peer, with empty allocations (peers that join later pin it too).
        let p = try await c[0].peer.pin(a)
        #expect(p.allocations.isEmpty && p.isPinEverywhere)
        #expect(await LocalCluster.eventually { c.members.allSatisfy { Self.ipfsPinned($0, a) } })
        // Pin update: b takes a's place with a's allocations.
        var o = PinOptions()
        o.pinUpdate = a
        _ = try await c[1].peer.pin(b, options: o)
        #expect(await LocalCluster.eventually { c.members.allSatisfy { Self.ipfsPinned($0, b) } })
        // Expiry: a pin that expires soon is unpinned by one peer for the cluster.
        var e = PinOptions()
        e.expireAt = Timestamp(unixMillis: Timestamp.now().unixMillis + 300)
        _ = try await c[2].peer.pin(a, options: e)
        #expect(try await LocalCluster.eventually {
            for m in c.members where try await m.peer.pinned(a) != nil { return false }
            return true
        })
        #expect(await LocalCluster.eventually { c.members.allSatisfy { !Self.ipfsPinned($0, a) } })
        var expired = 0
        for m in c.members { expired += await m.peer.expired }
        // One peer is responsible; a peerset seen differently for an instant may add a second.
        #expect(expired >= 1)
        #expect(c.members.allSatisfy { Self.ipfsPinned($0, b) })
    }

    @Test func aKilledPeerIsDetectedItsPinsMoveAndItCatchesUpOnReturn() async throws {
        let c = try await LocalCluster(peers: 4)
        defer { Task { await c.shutdown() } }
        #expect(await Self.formed(c, 4))
        var o = PinOptions()
        o.replicationFactorMin = 2
        o.replicationFactorMax = 2
        // Content on peer 0; pins allocated so that some peer other than 0 holds each.
        var pins: [Pin] = []
        for n in 0..<6 {
            let cid = try await c.addFile(Self.file(10 + n, size: 20_000), to: 0)
            pins.append(try await c[0].peer.pin(cid, options: o))
        }
        #expect(await LocalCluster.eventually { await Self.allPinned(c, pins) })
        // Kill the peer (not 0) holding the most pins.
        let counts = (1..<4).map { i in (i, pins.filter { $0.allocations.contains(c[i].id) }.count) }
        let victim = counts.max { $0.1 < $1.1 }!.0
        let dead = c[victim].id
        let alerts = await c[0].peer.monitor.alerts()
        let killed = ContinuousClock.now
        await c.kill(victim)
        var detected: Duration?
        for await a in alerts where a.metric.name == "ping" && a.metric.peer == dead {
            detected = ContinuousClock.now - killed
            break
        }
        // Ping TTL 1.5 s, checked every 200 ms: under the 5 s the issue asks for.
        #expect(detected.map { $0 < .seconds(5) } ?? false, "alert after \(String(describing: detected))")
        // After the repinning delay, each pin on the dead peer is re-allocated to live peers.
        #expect(try await LocalCluster.eventually {
            for p in pins {
                guard let now = try await c[0].peer.pinned(p.cid), !now.allocations.contains(dead), now.allocations.count == 2 else { return false }
            }
            return true
        })
        let moved = pins.map { p in p.cid }
        #expect(try await LocalCluster.eventually {
            for cid in moved {
                guard let p = try await c[0].peer.pinned(cid) else { return false }
                for m in c.members where p.allocations.contains(m.id) { if !Self.ipfsPinned(m, cid) { return false } }
            }
            return true
        })
        var repinned = 0
        for m in c.members where m.running { repinned += await m.peer.repinned }
        #expect(repinned == counts.first { $0.0 == victim }!.1)

        // The peer returns: it catches up with the state and lets go of what moved away.
        try await c.restart(victim)
        #expect(await Self.formed(c, 4))
        #expect(try await LocalCluster.eventually {
            for cid in moved {
                guard let p = try await c[victim].peer.pinned(cid) else { return false }
                if p.allocations.contains(dead) || Self.ipfsPinned(c[victim], cid) { return false }
            }
            return true
        })
    }

    @Test func aDeadPeersPinsWaitForEnoughPeersThenMove() async throws {
        let c = try await LocalCluster(peers: 3)
        defer { Task { await c.shutdown() } }
        #expect(await Self.formed(c, 3))
        let cid = try await c.addFile(Self.file(40, size: 4_000), to: 0)
        var o = PinOptions()
        o.replicationFactorMin = 3
        o.replicationFactorMax = 3
        let pin = try await c[0].peer.pin(cid, options: o)
        #expect(pin.allocations.count == 3)
        #expect(await LocalCluster.eventually { c.members.allSatisfy { Self.ipfsPinned($0, cid) } })
        // Peer 2 dies: three copies cannot be placed on two peers; the pin stays as it is...
        let dead = c[2].id
        await c.kill(2)
        #expect(await LocalCluster.eventually { await !c[0].peer.monitor.isAlive(dead) })
        // ...until a new peer joins, then it moves there (retried at every check).
        let newcomer = try await c.addPeer()
        #expect(try await LocalCluster.eventually {
            guard let p = try await c[0].peer.pinned(cid) else { return false }
            return !p.allocations.contains(dead) && p.allocations.contains(newcomer.id)
        })
        #expect(await LocalCluster.eventually { Self.ipfsPinned(newcomer, cid) })
    }

    /// A peer that sees most of the cluster gone (here: the others really died; from inside a
    /// partition it looks the same) moves no pins until it sees a majority again.
    @Test func aPeerThatSeesMostOfTheClusterGoneMovesNothingUntilAMajorityReturns() async throws {
        let c = try await LocalCluster(peers: 4)
        defer { Task { await c.shutdown() } }
        #expect(await Self.formed(c, 4))
        let cid = try await c.addFile(Self.file(50, size: 4_000), to: 0)
        var o = PinOptions()
        o.replicationFactorMin = 1
        o.replicationFactorMax = 1
        o.userAllocations = [c[3].id]
        let pin = try await c[0].peer.pin(cid, options: o)
        #expect(pin.allocations == [c[3].id])
        #expect(await LocalCluster.eventually { Self.ipfsPinned(c[3], cid) })
        // Peers 1, 2 and 3 die: peer 0 sees 1 of 4 and holds the dead holder's pin where it is.
        for i in 1...3 { await c.kill(i) }
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) { await c[0].peer.repinsHeldForMinority > 0 })
        #expect(try await c[0].peer.pinned(cid)?.allocations == [c[3].id])
        #expect(await c[0].peer.repinned == 0)
        // Two return (3 of 4 live): the pin moves off the dead peer.
        try await c.restart(1)
        try await c.restart(2)
        #expect(try await LocalCluster.eventually(timeout: .seconds(30)) {
            guard let p = try await c[0].peer.pinned(cid) else { return false }
            return !p.allocations.contains(c[3].id) && p.allocations.count == 1
        })
    }

    /// Half is not a majority: in a cluster of two the survivor holds the dead peer's pins
    /// until the dead peer is removed (`peers rm`); then they move at the next check.
    @Test func inAClusterOfTwoPeersRmMovesTheDeadPeersPins() async throws {
        let c = try await LocalCluster(peers: 2)
        defer { Task { await c.shutdown() } }
        #expect(await Self.formed(c, 2))
        let cid = try await c.addFile(Self.file(80, size: 3_000), to: 1)
        var o = PinOptions()
        o.replicationFactorMin = 1
        o.replicationFactorMax = 1
        o.userAllocations = [c[1].id]
        #expect(try await c[0].peer.pin(cid, options: o).allocations == [c[1].id])
        #expect(await LocalCluster.eventually { Self.ipfsPinned(c[1], cid) })
        let dead = c[1].id
        await c.kill(1)
        #expect(await LocalCluster.eventually(timeout: .seconds(30)) { await c[0].peer.repinsHeldForMinority > 0 })
        #expect(try await c[0].peer.pinned(cid)?.allocations == [dead])
        try await c[0].peer.removePeer(dead)
        #expect(try await LocalCluster.eventually(timeout: .seconds(30)) { try await c[0].peer.pinned(cid)?.allocations == [c[0].id] })
    }

    /// Make before break: a pin moved to a peer that cannot pin it yet stays pinned on its old
    /// holder, which lets go only once the new holder reports it pinned.
    @Test func aMovedPinStaysOnItsOldHolderUntilTheNewOneHasIt() async throws {
        let c = try await LocalCluster(peers: 3) {
            $0.disableRepinning = true
            $0.handoverInterval = .seconds(1)
        }
        defer { Task { await c.shutdown() } }
        #expect(await Self.formed(c, 3))
        // The content exists on peer 1 only.
        let cid = try await c.addFile(Self.file(60, size: 6_000), to: 1)
        var o = PinOptions()
        o.replicationFactorMin = 1
        o.replicationFactorMax = 1
        o.userAllocations = [c[1].id]
        var pin = try await c[0].peer.pin(cid, options: o)
        #expect(pin.allocations == [c[1].id])
        #expect(await LocalCluster.eventually { Self.ipfsPinned(c[1], cid) })
        // The pin moves to peer 2, which is down and cannot pin it.
        let target = c[2].id
        await c.kill(2)
        pin.allocations = [target]
        try await c[0].peer.pinset.pin([pin])
        #expect(await LocalCluster.eventually { await c[1].peer.heldForHandover == 1 })
        let rounds = await c[1].peer.handoverChecks
        #expect(await LocalCluster.eventually(timeout: .seconds(60)) { await c[1].peer.handoverChecks >= rounds + 3 })
        #expect(Self.ipfsPinned(c[1], cid))
        #expect(await c[1].peer.handedOver == 0)
        // Peer 2 returns and pins it (from peer 1); then peer 1 lets go.
        try await c.restart(2)
        #expect(await LocalCluster.eventually(timeout: .seconds(60)) { Self.ipfsPinned(c[2], cid) && !Self.ipfsPinned(c[1], cid) })
        #expect(await c[1].peer.handedOver == 1)
        #expect(await c[1].peer.heldForHandover == 0)
    }

    /// A peer's Routing V1 answer names the IPFS daemons of a pin's allocations (from their
    /// pings), so a client of any peer's gateway finds where the cluster keeps the content.
    @Test func routingV1AnswersNameTheAllocatedPeersDaemons() async throws {
        let c = try await LocalCluster(peers: 3, ipfs: .init(libp2p: true))
        defer { Task { await c.shutdown() } }
        #expect(await Self.formed(c, 3))
        let cid = try await c.addFile(Self.file(70, size: 5_000), to: 2)
        var o = PinOptions()
        o.replicationFactorMin = 1
        o.replicationFactorMax = 1
        o.userAllocations = [c[1].id]
        #expect(try await c[0].peer.pin(cid, options: o).allocations == [c[1].id])
        let daemon = try #require(c[1].node).host.peerID
        // The pings carry the IPFS IDs once each peer has learned its daemon's.
        #expect(await LocalCluster.eventually { await c[0].peer.routingProviders(of: cid).map(\.id) == [daemon] })
        let node = try #require(c[0].node)
        var answered: [PeerID] = []
        for await p in node.providers(of: cid, limit: 20, timeout: .seconds(10)) { answered.append(p.id) }
        #expect(answered.contains(daemon))
        #expect(try #require(await c[0].peer.routingProviders(of: cid).first).addrs.isEmpty == false)
        // A CID the cluster does not pin has no cluster providers.
        #expect(await c[0].peer.routingProviders(of: CID.v1(codec: .raw, .sha256([9]))).isEmpty)
    }

    static func allPinned(_ c: LocalCluster, _ pins: [Pin]) async -> Bool {
        for p in pins {
            for m in c.members where p.allocations.contains(m.id) { if !ipfsPinned(m, p.cid) { return false } }
        }
        return true
    }

    @Test func aFailedPinIsReportedAndRecovered() async throws {
        let c = try await LocalCluster(peers: 2) { s in s.tracker.pinTimeout = .milliseconds(500) }
        defer { Task { await c.shutdown() } }
        #expect(await Self.formed(c, 2))
        // A DAG nobody has: both pins time out for lack of progress.
        let bytes = Self.file(20, size: 5_000)
        let (root, blocks) = try FileImporter.importBytes(bytes, settings: ImportSettings(), keepBlocks: true)
        _ = try await c[0].peer.pin(root.cid)
        #expect(await LocalCluster.eventually { await Self.statuses(c, root.cid).values.allSatisfy { $0 == .pinError } })
        let failed = await c[0].peer.status(root.cid, local: true).peerMap.values.first
        #expect(failed?.attemptCount == 1)
        #expect(failed?.error.contains("no progress") == true)
        // The blocks arrive on peer 1; recover re-queues both, peer 0 fetches from peer 1.
        _ = try await c[1].connector.blockPut(BlockList(blocks: blocks))
        _ = try await c[0].peer.recover(root.cid)
        #expect(await LocalCluster.eventually { await Self.statuses(c, root.cid).values.allSatisfy { $0 == .pinned } })
        #expect(c.members.allSatisfy { Self.ipfsPinned($0, root.cid) })
    }

    @Test func aPeerWithTheWrongSecretNeverJoinsAndAnUntrustedPeerCannotWrite() async throws {
        let keys = (0..<2).map { _ in Ed25519.PrivateKey.generate() }
        let trusted = Set(try keys.map { try PeerID(ed25519PublicKey: $0.publicKey.bytes) })
        let c = try await LocalCluster(peers: 2, identities: keys) { s in
            s.trust = .peers(trusted)
            s.pinset.trust = .peers(trusted)
        }
        defer { Task { await c.shutdown() } }
        #expect(await Self.formed(c, 2))
        // Wrong secret: the handshake fails, the peer has no connection and is never seen.
        let outsider = try await c.addPeer(secret: SecureBytes(SodiumRandom.bytes(32))) { s in s.pinset.trust = .everyone }
        #expect(outsider.peer.transport.connectedPeers.isEmpty)
        // Right secret, untrusted identity (and a config that trusts everyone, so it writes):
        // it connects, but its pins are refused.
        let untrusted = try await c.addPeer { s in s.pinset.trust = .everyone }
        #expect(await LocalCluster.eventually { await c[0].peer.monitor.peers().contains(untrusted.id) })
        let foreign = try await c.addFile(Self.file(30, size: 1_000), to: untrusted.index)
        _ = try await untrusted.peer.pin(foreign)
        _ = try await outsider.peer.pin(foreign)
        // A trusted pin made afterwards reaches everyone; the untrusted one never does.
        let marker = try await c.addFile(Self.file(31, size: 1_000), to: 0)
        _ = try await c[0].peer.pin(marker)
        #expect(try await LocalCluster.eventually {
            for i in 0..<2 where try await c[i].peer.pinned(marker) == nil { return false }
            return try await untrusted.peer.pinned(marker) != nil
        })
        for i in 0..<2 {
            #expect(try await c[i].peer.pinned(foreign) == nil)
            #expect(await c[i].peer.monitor.peers().contains(outsider.id) == false)
        }
        #expect(try await outsider.peer.pinned(marker) == nil)
        #expect(await c[0].peer.pinset.stats.nodesRefused >= 1)
    }
}
