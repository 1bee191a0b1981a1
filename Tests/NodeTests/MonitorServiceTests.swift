import ClusterModel
import Foundation
import Multiformats
import NIOConcurrencyHelpers
import NIOCore
import Node
import PeerMonitor
import Testing

/// The monitor over real pubsub on loopback: a peer that stops is alerted on the others within
/// the ping TTL plus a check, and drops out of their peerset.
@Suite struct MonitorServiceTests {
    static func settings() -> MonitorService.Settings {
        var s = MonitorService.Settings()
        s.clusterName = "montest"
        s.pingInterval = .milliseconds(200)
        s.checkInterval = .milliseconds(100)
        s.informerTTL = .milliseconds(600)
        s.tags = ["group": "g1"]
        return s
    }

    @Test func aStoppedPeerIsAlertedWithinTheBoundAndLeavesThePeerset() async throws {
        let peers = try await PubSubServiceTests.cluster(3)
        var monitors: [MonitorService] = []
        for p in peers {
            let m = MonitorService(pubsub: p.pubsub, me: p.transport.localPeer, settings: Self.settings())
            await m.addInformer { ("freespace", "1000", 1000) }
            await m.start()
            monitors.append(m)
        }
        let ids = peers.map { $0.transport.localPeer }
        // Everyone sees everyone.
        for m in monitors { #expect(await PubSubServiceTests.eventually(timeout: .seconds(20)) { await m.peers().count == 3 }) }
        // A loaded machine can let a value lapse for an instant between two reports: wait for both.
        let first = monitors[0]
        #expect(await PubSubServiceTests.eventually(timeout: .seconds(20)) {
            let v = await first.values(of: ids[1])
            return v["tag:group"] == "g1" && v["freespace"] == "1000"
        })
        let alerts = await monitors[0].alerts()
        // Peer 2 stops: its pings end.
        let stopped = ContinuousClock.now
        await monitors[2].stop()
        await peers[2].pubsub.stop()
        await peers[2].transport.shutdown()
        let got = NIOLockedValueBox<Alert?>(nil)
        let reader = Task {
            for await a in alerts where a.metric.name == "ping" && a.metric.peer == ids[2] {
                got.withLockedValue { $0 = a }
                return
            }
        }
        #expect(await PubSubServiceTests.eventually(timeout: .seconds(20)) { got.withLockedValue { $0 } != nil })
        reader.cancel()
        // Ping TTL 600 ms + a 100 ms check; generous for a loaded machine, far under 5 s.
        let took = ContinuousClock.now - stopped
        #expect(took < .seconds(5), "alert after \(took)")
        // Peer 1's ping may lapse for an instant on a loaded machine (600 ms TTL): awaited.
        #expect(await PubSubServiceTests.eventually(timeout: .seconds(20)) { await first.peers() == Array(ids[0..<2]).sorted() })
        #expect(await monitors[1].isAlive(ids[2]) == false)
        #expect(await monitors[0].recentAlerts.contains { $0.metric.peer == ids[2] && $0.metric.name == "ping" })
        // Traffic stays small: three metrics per peer per ping interval here, each under 300 bytes.
        #expect(await monitors[0].bytesPublished > 0)
        let ping = Metric(name: "ping", peer: ids[0], value: "", expire: Int64(Date().timeIntervalSince1970 * 1e9))
        #expect(try JSONEncoder().encode(ping).count < 300)
        for m in monitors.prefix(2) { await m.stop() }
        await PubSubServiceTests.shutdown(Array(peers.prefix(2)))
    }

    /// An informer that never answers (a `freespace` waiting behind pins on a busy IPFS daemon)
    /// must not hold the ping back: the other peer keeps seeing this one alive.
    @Test func aStuckInformerNeverDelaysThePing() async throws {
        let peers = try await PubSubServiceTests.cluster(2)
        let stuck = MonitorService(pubsub: peers[0].pubsub, me: peers[0].transport.localPeer, settings: Self.settings())
        let release = AsyncStream<Void>.makeStream()
        await stuck.addInformer {
            for await _ in release.stream {}
            return nil
        }
        await stuck.start()
        let watcher = MonitorService(pubsub: peers[1].pubsub, me: peers[1].transport.localPeer, settings: Self.settings())
        await watcher.start()
        let me = peers[0].transport.localPeer
        #expect(await PubSubServiceTests.eventually(timeout: .seconds(20)) { await watcher.isAlive(me) })
        // Pings keep going out (ten more rounds), and the peer stays alive with fresh tags.
        let first = await stuck.bytesPublished
        #expect(await PubSubServiceTests.eventually(timeout: .seconds(20)) { await stuck.bytesPublished >= first * 10 })
        #expect(await watcher.isAlive(me))
        #expect(await watcher.values(of: me)["tag:group"] == "g1")
        release.continuation.finish()
        await stuck.stop()
        await watcher.stop()
        await PubSubServiceTests.shutdown(peers)
    }

    @Test func aPeerCannotSpeakForAnother() async throws {
        let peers = try await PubSubServiceTests.cluster(2)
        let m = MonitorService(pubsub: peers[0].pubsub, me: peers[0].transport.localPeer, settings: Self.settings())
        await m.start()
        #expect(await peers[1].pubsub.waitForPeers(subscribedTo: m.topic, count: 1, timeout: .seconds(20)))
        // Peer 1 publishes a ping claiming to be a third peer, and one that is garbage.
        let victim = try PeerID("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA")
        let forged = Metric(name: "ping", peer: victim, value: "", expire: Int64(Date().timeIntervalSince1970 * 1e9) + 60_000_000_000)
        try await peers[1].pubsub.publish(m.topic, Array(JSONEncoder().encode(forged)))
        try await peers[1].pubsub.publish(m.topic, Array("not json".utf8))
        #expect(await PubSubServiceTests.eventually(timeout: .seconds(20)) { await m.refused >= 2 })
        #expect(await m.isAlive(victim) == false)
        await m.stop()
        await PubSubServiceTests.shutdown(peers)
    }
}
