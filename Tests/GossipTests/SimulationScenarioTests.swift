import ClusterModel
import ClusterTestKit
import Gossip
import Testing

extension Tag {
    /// Scenarios with 1,000 peers: minutes in a debug build; `.ci/run` runs them too.
    @Tag static var slow: Self
}

/// Pubsub properties on the deterministic simulator, over a fixed list of seeds. A failure
/// prints the seed; `GossipSimulation(settings, seed:)` with that seed replays the run exactly.
@Suite struct SimulationScenarioTests {
    static let seeds: [UInt64] = [1, 2, 3]

    /// Warm up, publish `messages` of 4 KiB from random peers every 100 ms (with `during` run
    /// after each), then drain.
    static func run(
        _ settings: GossipSimulation.Settings, seed: UInt64, messages: Int = 20, from candidates: [Int]? = nil,
        during: (GossipSimulation, Int) throws -> Void = { _, _ in }
    ) throws -> GossipSimulation {
        let sim = try GossipSimulation(settings, seed: seed)
        sim.run(for: .seconds(3))
        var rng = SeededRandom(seed: seed ^ 0xABCD)
        let pool = candidates ?? Array(0..<settings.peers)
        for k in 0..<messages {
            try sim.publish(from: pool[Int.random(in: 0..<pool.count, using: &rng)], bytes: 4096)
            sim.run(for: .milliseconds(100))
            try during(sim, k)
        }
        sim.run(for: .seconds(8))
        return sim
    }

    static func settings(peers: Int, loss: Double) -> GossipSimulation.Settings {
        var s = GossipSimulation.Settings(peers: peers)
        s.network.loss = loss
        return s
    }

    @Test(arguments: [20, 100], [0.01, 0.05])
    func everyMessageReachesEveryPeer(peers: Int, loss: Double) throws {
        for seed in Self.seeds {
            // 40 messages: choking settles after the first few (it needs `choke_min_messages`).
            let report = try Self.run(Self.settings(peers: peers, loss: loss), seed: seed, messages: 40).report()
            #expect(report.deliveryRatio == 1, "\(report)")
            // Flood publishing sends each message to all of the publisher's ~16 peers, which at 20
            // peers is most of the network; from 100 peers on, the push path dominates.
            #expect(report.copiesPerDelivery < (peers <= 20 ? 6 : 4), "\(report)")
        }
    }

    @Test func framesSurviveTheWireFormat() throws {
        var s = Self.settings(peers: 20, loss: 0.01)
        s.wireRoundTrip = true
        let report = try Self.run(s, seed: 7).report()
        #expect(report.deliveryRatio == 1, "\(report)")
    }

    @Test func aSeedReplaysExactly() throws {
        let a = try Self.run(Self.settings(peers: 50, loss: 0.05), seed: 11).report()
        let b = try Self.run(Self.settings(peers: 50, loss: 0.05), seed: 11).report()
        #expect(a.latenciesMs == b.latenciesMs && a.copies == b.copies && a.events == b.events)
        let c = try Self.run(Self.settings(peers: 50, loss: 0.05), seed: 12).report()
        #expect(a.latenciesMs != c.latenciesMs)
    }

    @Test func messagesPublishedDuringAPartitionCrossAfterItHeals() throws {
        for seed in Self.seeds {
            let peers = 100
            let groups = (0..<peers).map { $0 % 2 }
            let sim = try Self.run(Self.settings(peers: peers, loss: 0.01), seed: seed, messages: 30) { sim, k in
                if k == 0 { sim.partition(groups) }  // messages 1...29: about 3 s split in two
                if k == 29 { sim.heal() }
            }
            let report = sim.report()
            #expect(report.deliveryRatio == 1, "\(report)")
        }
    }

    @Test func churnKeepsDeliveryCompleteForPeersThatStay() throws {
        for seed in Self.seeds {
            let peers = 100
            // 10 % of the peers crash while messages flow; half of them come back.
            let churners = Array(90..<100)
            let sim = try Self.run(Self.settings(peers: peers, loss: 0.01), seed: seed, messages: 30, from: Array(0..<90)) { sim, k in
                if k < churners.count { sim.crash(churners[k]) }
                if k >= 15 && k < 20 { try sim.restart(churners[k - 15]) }
            }
            let report = sim.report()
            #expect(report.deliveryRatio == 1, "\(report)")
        }
    }

    @Test func aSpammerIsGraylistedAndHonestTrafficIsUnaffected() throws {
        for seed in Self.seeds {
            let peers = 100
            let spammer = 0
            let sim = try Self.run(Self.settings(peers: peers, loss: 0.01), seed: seed, messages: 30, from: Array(1..<peers)) { sim, k in
                if k == 0 { sim.makeSpammer(spammer) }
            }
            let report = sim.report()
            #expect(report.deliveryRatio == 1, "\(report)")
            let threshold = PeerScoreSettings().graylistThreshold
            for j in sim.neighbours[spammer].sorted() {
                #expect(sim.nodes[j].score(of: sim.ids[spammer], now: sim.net.now) < threshold, "seed \(seed): peer \(j) still listens to the spammer")
                #expect(!sim.nodes[j].meshPeers(sim.settings.topic).contains(sim.ids[spammer]), "seed \(seed): spammer still in \(j)'s mesh")
            }
            #expect(sim.neighbours[spammer].allSatisfy { sim.nodes[$0].counters.graylistedFrames > 0 }, "seed \(seed): frames still accepted")
        }
    }

    @Test func blackHolesDoNotLowerDelivery() throws {
        for seed in Self.seeds {
            let peers = 100
            let holes = Set(0..<10)
            let sim = try GossipSimulation(Self.settings(peers: peers, loss: 0.01), seed: seed)
            sim.blackHoles = holes
            sim.run(for: .seconds(3))
            var rng = SeededRandom(seed: seed)
            for _ in 0..<20 {
                try sim.publish(from: Int.random(in: 10..<peers, using: &rng), bytes: 4096)
                sim.run(for: .milliseconds(100))
            }
            sim.run(for: .seconds(8))
            let report = sim.report()
            #expect(report.deliveryRatio == 1, "\(report)")
        }
    }

    @Test(.tags(.slow), arguments: [0.01, 0.05])
    func thousandPeers(loss: Double) throws {
        let report = try Self.run(Self.settings(peers: 1000, loss: loss), seed: 1, messages: 50).report()
        #expect(report.deliveryRatio == 1, "\(report)")
        #expect(report.copiesPerDelivery <= 4, "\(report)")
        #expect(report.latencyPercentileMs(0.99) <= 300, "\(report)")
    }
}
