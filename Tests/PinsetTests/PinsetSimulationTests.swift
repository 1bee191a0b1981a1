import ClusterModel
import ClusterTestKit
import Multiformats
import Pinset
import Testing

/// The sync protocol under faults, on the deterministic simulator (fixed seeds). Property:
/// every live trusted peer ends with the state the merge rules define, computed by applying
/// every trusted node on a fresh replica.
@Suite struct PinsetSimulationScenarioTests {
    static func workload(_ sim: inout PinsetSimulation, steps: Int, keys: Int, rng: inout SplitMix64, writers: [Int]? = nil) throws {
        for _ in 0..<steps {
            let pool = writers ?? Array(0..<sim.settings.peers)
            let i = pool[Int(rng.next() % UInt64(pool.count))]
            let k = Int(rng.next() % UInt64(keys))
            let op: PinsetOperation = rng.chance(0.3) ? .unpin(PinsetFixtures.cid(k)) : .pin(PinsetFixtures.pin(k, name: "v\(rng.next() % 1000)"))
            try sim.write(i, [op])
            try sim.run(for: .milliseconds(Int64(rng.next() % 40)))
        }
    }

    /// Runs until every live trusted peer holds the reference state; returns the simulated time it took.
    static func settle(_ sim: inout PinsetSimulation, within limit: Duration) throws -> Duration? {
        let reference = try sim.referenceState()
        let start = sim.net.now
        while sim.net.now - start <= limit {
            if sim.allLive(equal: reference) { return sim.net.now - start }
            try sim.run(for: .milliseconds(50))
        }
        return nil
    }

    /// Concurrent writes of the same few keys on every peer, with loss, jitter (reordering)
    /// and periodic re-announcements (duplicates).
    @Test(arguments: [11, 12, 13] as [UInt64])
    func concurrentWritesUnderLossAndReordering(seed: UInt64) throws {
        var s = PinsetSimulation.Settings()
        s.network = .init(loss: 0.1, jitter: .milliseconds(80))
        var sim = PinsetSimulation(settings: s, seed: seed)
        var rng = SplitMix64(seed: seed)
        try Self.workload(&sim, steps: 400, keys: 8, rng: &rng)
        let t = try Self.settle(&sim, within: .seconds(10))
        #expect(t != nil, "not converged 10 s after the last write")
        #expect(sim.net.stats.lost > 0)
    }

    @Test func partitionsHeal() throws {
        var s = PinsetSimulation.Settings()
        s.peers = 6
        var sim = PinsetSimulation(settings: s, seed: 21)
        var rng = SplitMix64(seed: 21)
        try Self.workload(&sim, steps: 50, keys: 30, rng: &rng)
        sim.net.partition([0, 0, 0, 1, 1, 1])
        try Self.workload(&sim, steps: 300, keys: 30, rng: &rng)
        // While split, the two sides differ.
        #expect(sim.replicas[0].store.pins != sim.replicas[5].store.pins)
        sim.net.heal()
        let t = try Self.settle(&sim, within: .seconds(5))
        #expect(t != nil, "not converged within 5 s of healing")
    }

    /// A peer away for a long time (thousands of writes) catches up within seconds of returning.
    @Test func longOfflinePeerCatchesUp() throws {
        var s = PinsetSimulation.Settings()
        s.peers = 4
        var sim = PinsetSimulation(settings: s, seed: 31)
        var rng = SplitMix64(seed: 31)
        try Self.workload(&sim, steps: 100, keys: 500, rng: &rng)
        sim.crash(3)
        for batch in 0..<20 {
            try sim.write(batch % 3, (0..<100).map { .pin(PinsetFixtures.pin(1_000 + batch * 100 + $0)) })
            try sim.run(for: .milliseconds(200))
        }
        try Self.workload(&sim, steps: 200, keys: 500, rng: &rng, writers: [0, 1, 2])
        try sim.run(for: .seconds(60))
        sim.restart(3)
        let t = try Self.settle(&sim, within: .seconds(5))
        #expect(t != nil)
        #expect(sim.replicas[3].store.pins.count > 2_000)
    }

    @Test func untrustedWriterChangesNoTrustedState() throws {
        var s = PinsetSimulation.Settings()
        s.untrusted = [4]
        var sim = PinsetSimulation(settings: s, seed: 41)
        var rng = SplitMix64(seed: 41)
        try Self.workload(&sim, steps: 200, keys: 20, rng: &rng, writers: [0, 1, 2, 3])
        try sim.write(4, (100..<150).map { .pin(PinsetFixtures.pin($0)) })
        #expect(try Self.settle(&sim, within: .seconds(5)) != nil)
        let reference = try sim.referenceState()
        #expect(!reference.keys.contains(PinsetFixtures.cid(100)))
        for i in 0..<4 { #expect(sim.replicas[i].store.pins == reference) }
        // The untrusted peer still reads everything the trusted ones wrote, beside its own.
        for (k, p) in reference { #expect(sim.replicas[4].store.pins[k] == p) }
        #expect(sim.replicas[4].store.pins.count == reference.count + 50)
    }

    /// Peers crash at random moments (their durable store survives, in-flight syncs do not)
    /// and restart; nothing diverges or corrupts.
    @Test func crashesAndRestartsAtRandomMoments() throws {
        var s = PinsetSimulation.Settings()
        s.network = .init(loss: 0.05, jitter: .milliseconds(30))
        var sim = PinsetSimulation(settings: s, seed: 51)
        var rng = SplitMix64(seed: 51)
        for round in 0..<30 {
            let victim = Int(rng.next() % 5)
            sim.crash(victim)
            try Self.workload(&sim, steps: 20, keys: 40, rng: &rng, writers: (0..<5).filter { $0 != victim })
            sim.restart(victim)
            try sim.run(for: .milliseconds(Int64(100 + round * 7)))
        }
        let settled = try Self.settle(&sim, within: .seconds(5))
        #expect(settled != nil)
        if settled == nil {
            let reference = try sim.referenceState()
            for i in 0..<5 {
                let pins = sim.replicas[i].store.pins
                print("replica \(i) alive \(sim.net.alive[i]) pins \(pins.count) ref \(reference.count) equal \(pins == reference) heads \(sim.replicas[i].store.heads().count) nodes \(sim.replicas[i].store.nodes.count) history \(sim.trustedHistory.count)")
            }
        }
    }
}
