import ArgumentParser
import ClusterTestKit
import Gossip

/// `pinmesh-bench gossip`: the pubsub router on the deterministic simulator.
///
/// The baseline, run on the same seed and network, is plain gossipsub v1.1 with the
/// specification's parameters (d = 6, 1 s heartbeat, no choking).
struct GossipBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gossip",
        abstract: "Simulate N peers publishing on one topic: delivery, latency, copies per delivery, against plain gossipsub.")

    @Option(help: "Number of peers.") var peers = 1000
    @Option(help: "Random loss per send, 0...1.") var loss = 0.01
    @Option(help: "Seed; the same seed replays the same run.") var seed: UInt64 = 1
    @Option(help: "Messages to publish (from random peers).") var messages = 100
    @Option(help: "Payload bytes per message.") var bytes = 4096
    @Option(help: "Milliseconds between publishes.") var intervalMs = 100
    @Option(help: "Connections each peer dials at the start.") var dials = 8
    @Option(help: "Mesh peers per topic allowed to push to us (choking); 0 turns choking off.") var dUnchoked = GossipSettings().dUnchoked
    @Flag(help: "Skip the plain-gossipsub baseline run.") var noBaseline = false
    @Flag(help: "One JSON object instead of a table.") var json = false

    func validate() throws {
        guard peers >= 2, (0...1).contains(loss), messages >= 1, bytes >= 8, intervalMs >= 1, (0...6).contains(dUnchoked) else {
            throw ValidationError("need --peers ≥ 2, --loss within 0...1, --messages ≥ 1, --bytes ≥ 8, --interval-ms ≥ 1, --d-unchoked within 0...6")
        }
    }

    func run() throws {
        var tuned = GossipSettings()
        tuned.choke = dUnchoked > 0
        if dUnchoked > 0 { tuned.dUnchoked = dUnchoked }
        let (ours, wall) = try simulate(tuned)
        var fields: [(String, Double)] = [
            ("peers", Double(peers)), ("loss", loss), ("seed", Double(seed)),
            ("delivery_ratio", ours.deliveryRatio),
            ("latency_p50_ms", ours.latencyPercentileMs(0.5)), ("latency_p99_ms", ours.latencyPercentileMs(0.99)),
            ("latency_max_ms", ours.latenciesMs.last ?? 0),
            ("copies_per_delivery", ours.copiesPerDelivery), ("bytes_per_peer_per_s", ours.bytesPerPeerPerSecond),
            ("sim_events_per_s", Double(ours.events) / wall),
        ]
        if !noBaseline {
            var spec = GossipSettings()
            spec.choke = false
            spec.heartbeatInterval = .seconds(1)
            spec.historyLength = 5
            spec.idontwantTTL = .seconds(3)
            let (base, _) = try simulate(spec)
            fields += [
                ("baseline_delivery_ratio", base.deliveryRatio),
                ("baseline_latency_p99_ms", base.latencyPercentileMs(0.99)),
                ("baseline_copies_per_delivery", base.copiesPerDelivery),
                ("ratio_copies_vs_baseline", ours.copiesPerDelivery / base.copiesPerDelivery),
                ("ratio_p99_vs_baseline", ours.latencyPercentileMs(0.99) / base.latencyPercentileMs(0.99)),
            ]
        }
        BenchReport.print(scenario: "gossip", fields: fields, json: json)
    }

    private func simulate(_ gossip: GossipSettings) throws -> (GossipSimulation.Report, Double) {
        var settings = GossipSimulation.Settings(peers: peers)
        settings.gossip = gossip
        settings.network.loss = loss
        settings.dialsPerPeer = dials
        var result: GossipSimulation.Report?
        let wall = BenchClock.seconds {
            do {
                let sim = try GossipSimulation(settings, seed: seed)
                sim.run(for: .seconds(5))
                var rng = SeededRandom(seed: seed ^ 0x5EED)
                for _ in 0..<messages {
                    try sim.publish(from: Int.random(in: 0..<peers, using: &rng), bytes: bytes)
                    sim.run(for: .milliseconds(intervalMs))
                }
                sim.run(for: .seconds(10))
                result = sim.report()
            } catch {
                result = nil
            }
        }
        guard let result else { throw ValidationError("the simulation could not start (key generation failed)") }
        return (result, wall)
    }
}
