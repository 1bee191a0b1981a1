import ClusterModel
import Foundation
import Multiformats
import PeerMonitor
import Sodium
import Testing

@Suite struct PeerMonitorTests {
    static let peers: [PeerID] = (0..<3).map { _ in try! PeerID(ed25519PublicKey: Ed25519.PrivateKey.generate().publicKey.bytes) }.sorted()
    static let s: Int64 = 1_000_000_000

    static func ping(_ i: Int, at t: Int64, ttl: Int64 = 3 * s) -> Metric {
        Metric(name: "ping", peer: peers[i], value: "", expire: t + ttl, valid: true)
    }

    @Test func aSilentPeerRaisesOneAlertWithinThePingTTL() {
        var m = PeerMonitorInstance()
        // Pings every second from three peers; peer 2 stops after t = 2 s.
        var firstAlert: Int64?
        for tick in 0...10 {
            let now = Int64(tick) * Self.s
            for i in 0..<3 where i != 2 || tick <= 2 { #expect(m.receive(Self.ping(i, at: now), now: now) == .stored) }
            let raised = m.check(now: now)
            if let a = raised.first {
                #expect(raised.count == 1)
                #expect(a.metric.peer == Self.peers[2])
                firstAlert = firstAlert ?? now
            }
        }
        // Last ping at 2 s with a 3 s TTL: the alert comes at 5 s, and only once.
        #expect(firstAlert == 5 * Self.s)
        #expect(m.alerts.count == 1)
        #expect(m.peers(now: 10 * Self.s) == [Self.peers[0], Self.peers[1]])
        #expect(!m.isAlive(Self.peers[2], now: 10 * Self.s))
        // The peer returns: alive again, and a later silence alerts again.
        #expect(m.receive(Self.ping(2, at: 11 * Self.s), now: 11 * Self.s) == .stored)
        #expect(m.isAlive(Self.peers[2], now: 11 * Self.s))
        #expect(m.check(now: 20 * Self.s).count == 3)
        #expect(m.alerts.count == 4)
    }

    @Test func staleInvalidAndExpiredMetricsAreIgnored() {
        var m = PeerMonitorInstance()
        #expect(m.receive(Self.ping(0, at: 10 * Self.s), now: 10 * Self.s) == .stored)
        #expect(m.receive(Self.ping(0, at: 9 * Self.s), now: 10 * Self.s) == .stale)
        var bad = Self.ping(1, at: 10 * Self.s)
        bad.valid = false
        #expect(m.receive(bad, now: 10 * Self.s) == .invalid)
        #expect(m.receive(Self.ping(1, at: 0), now: 10 * Self.s) == .invalid)  // expired on arrival
        #expect(m.peers(now: 10 * Self.s) == [Self.peers[0]])
        #expect(m.metrics("ping", now: 10 * Self.s).first?.receivedAt == 10 * Self.s)
    }

    @Test func valuesForTheAllocatorAndForgetting() {
        var m = PeerMonitorInstance()
        let now = 5 * Self.s
        m.receive(Metric(name: "freespace", peer: Self.peers[0], value: "1000", expire: now + Self.s), now: now)
        m.receive(Metric(name: "tag:group", peer: Self.peers[0], value: "eu", expire: now + Self.s, partitionable: true), now: now)
        m.receive(Self.ping(0, at: now), now: now)
        #expect(m.values(of: Self.peers[0], now: now) == ["freespace": "1000", "tag:group": "eu", "ping": ""])
        #expect(m.values(of: Self.peers[0], now: now + 2 * Self.s) == ["ping": ""])  // the others expired
        #expect(m.metricNames == ["freespace", "ping", "tag:group"])
        m.forget(Self.peers[0])
        #expect(m.values(of: Self.peers[0], now: now).isEmpty)
        #expect(m.check(now: now + 10 * Self.s).isEmpty)
    }

    @Test func limitsOnAlertsAndPeers() {
        var settings = PeerMonitorInstance.Settings()
        settings.maxAlerts = 2
        settings.maxPeers = 2
        var m = PeerMonitorInstance(settings: settings)
        #expect(m.receive(Self.ping(0, at: 0), now: 0) == .stored)
        #expect(m.receive(Self.ping(1, at: 0), now: 0) == .stored)  // at the limit
        #expect(m.receive(Self.ping(2, at: 0), now: 0) == .tooManyPeers)  // one past it
        m.receive(Metric(name: "freespace", peer: Self.peers[0], value: "1", expire: Self.s), now: 0)
        #expect(m.check(now: 10 * Self.s).count == 3)
        #expect(m.alerts.count == 2)
    }

    @Test func jsonIsIpfsClusters() throws {
        let metric = Metric(name: "freespace", peer: Self.peers[0], value: "123", expire: 1_700_000_000_000_000_000, valid: true, weight: 123, partitionable: false, receivedAt: 1_690_000_000_000_000_000)
        let data = try JSONEncoder().encode(metric)
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(obj.keys) == ["name", "peer", "value", "expire", "valid", "weight", "partitionable", "received_at"])
        #expect(obj["peer"] as? String == Self.peers[0].description)
        #expect(try JSONDecoder().decode(Metric.self, from: data) == metric)
        let alert = Alert(metric: metric, triggeredAt: Timestamp(unixMillis: 1_700_000_000_123))
        let a = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(alert)) as? [String: Any])
        #expect(a["triggered_at"] as? String == "2023-11-14T22:13:20.123Z")
        #expect(a["name"] as? String == "freespace")
        #expect(try JSONDecoder().decode(Alert.self, from: JSONEncoder().encode(alert)) == alert)
        #expect(throws: (any Error).self) { _ = try JSONDecoder().decode(Metric.self, from: Data(#"{"name":"x","peer":"nope"}"#.utf8)) }
    }
}
