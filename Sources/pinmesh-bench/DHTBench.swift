import ArgumentParser
import ClusterTestKit
import DHT
import Multiformats

/// `pinmesh-bench dht-sim`: provider lookups on a simulated DHT of N peers (the real lookup
/// and server code, ClusterTestKit's DHTSimulation): round trips and requests per lookup at
/// p50 and p99, with a share of the peers down, against the same lookups with α = 1
/// (Kademlia asking one peer at a time) on the same seed and network.
struct DHTBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dht-sim", abstract: "Simulate provider lookups on an N-peer DHT: round trips and requests at p50/p99, against α = 1.")

    @Option(help: "Number of peers.") var peers = 1000
    @Option(help: "Lookups (each for a key a random peer announced, from another random peer).") var lookups = 300
    @Option(help: "Share of the peers down during the lookups, 0...0.5.") var down = 0.0
    @Option(help: "Share of the other peers each peer has met (its table fills from those), 0...1.") var known = 0.2
    @Option(help: "Seed; the same seed replays the same run.") var seed: UInt64 = 1
    @Flag(help: "One JSON object instead of a table.") var json = false

    func validate() throws {
        guard peers >= 30, lookups >= 1, (0...0.5).contains(down), known > 0, known <= 1 else {
            throw ValidationError("need --peers ≥ 30, --lookups ≥ 1, --down within 0...0.5, --known within (0, 1]")
        }
    }

    struct Result {
        var rounds: [Int] = []
        var requests: [Int] = []
        var found = 0
    }

    func run() throws {
        var (ours, base) = (Result(), Result())
        let wall = BenchClock.seconds {
            var sim = DHTSimulation(peers: peers, seed: seed, known: known)
            var rng = SeededRandom(seed: seed ^ 0xD47)
            var keys: [[UInt8]] = []
            for i in 0..<lookups {
                let key = Multihash.sha256(Array("dht-sim \(seed) \(i)".utf8)).bytes
                sim.provide(key, by: sim.ids[Int.random(in: 0..<peers, using: &rng)])
                keys.append(key)
            }
            for id in sim.ids.shuffled(using: &rng).prefix(Int(Double(peers) * down)) { sim.down.insert(id) }
            let live = sim.ids.filter { !sim.down.contains($0) }
            for key in keys {
                let from = live[Int.random(in: 0..<live.count, using: &rng)]
                for (alpha, out) in [(3, 0), (1, 1)] {
                    // GET_PROVIDERS changes nothing: both lookups see the same network.
                    let (l, rounds) = sim.lookup(from: from, DHTMessage(type: .getProviders, key: key), goal: .providers(enough: 1), alpha: alpha)
                    if out == 0 {
                        ours.rounds.append(rounds)
                        ours.requests.append(l.queriesSent)
                        if !l.providers.isEmpty { ours.found += 1 }
                    } else {
                        base.rounds.append(rounds)
                        base.requests.append(l.queriesSent)
                        if !l.providers.isEmpty { base.found += 1 }
                    }
                }
            }
        }
        func p(_ xs: [Int], _ q: Double) -> Double {
            let s = xs.sorted()
            return Double(s[min(s.count - 1, Int(Double(s.count - 1) * q))])
        }
        let fields: [(String, Double)] = [
            ("peers", Double(peers)), ("lookups", Double(lookups)), ("down", down), ("known", known), ("seed", Double(seed)),
            ("found_ratio", Double(ours.found) / Double(lookups)),
            ("rounds_p50", p(ours.rounds, 0.5)), ("rounds_p99", p(ours.rounds, 0.99)),
            ("requests_p50", p(ours.requests, 0.5)), ("requests_p99", p(ours.requests, 0.99)),
            ("baseline_alpha1_found_ratio", Double(base.found) / Double(lookups)),
            ("baseline_alpha1_rounds_p99", p(base.rounds, 0.99)),
            ("ratio_rounds_p99_vs_alpha1", p(ours.rounds, 0.99) / max(1, p(base.rounds, 0.99))),
            ("sim_seconds", wall),
        ]
        BenchReport.print(scenario: "dht-sim", fields: fields, json: json)
    }
}
