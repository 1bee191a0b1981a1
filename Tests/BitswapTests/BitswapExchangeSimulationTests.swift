import Bitswap
import ClusterTestKit
import Multiformats
import Testing

/// One client and several server engines exchanging messages with random latency, in
/// simulated time: the pure cores end to end, deterministic per seed.
struct BitswapExchangeSimulation {
    struct Server {
        var engine: BitswapServerEngine
        var blocks: [CID: [UInt8]]
        /// Answers every want with a forged block as well (bytes that do not hash to the CID).
        var forges: Bool
    }

    struct InFlight {
        let at: Duration
        let seq: Int
        let from: PeerID
        let to: PeerID
        let message: BitswapMessage
    }

    let clientPeer = BitswapTestPeers.peer(100)
    var client: BitswapClient
    var servers: [PeerID: Server] = [:]
    var queue: [InFlight] = []
    var now: Duration = .zero
    var seq = 0
    var rng: SeededRandom
    var delivered: [CID: [UInt8]] = [:]
    var notFound: [CID] = []
    var maxLive = 0
    var forgeries = 0

    init(seed: UInt64) throws {
        client = try BitswapClient()
        rng = SeededRandom(seed: seed)
    }

    mutating func post(_ from: PeerID, _ to: PeerID, _ message: BitswapMessage) {
        seq += 1
        queue.append(InFlight(at: now + .milliseconds(Int.random(in: 1...20, using: &rng)), seq: seq, from: from, to: to, message: message))
    }

    mutating func run(client actions: [BitswapClientAction]) {
        for a in actions {
            switch a {
            case .send(let p, let m): if servers[p] != nil { post(clientPeer, p, m) }
            case .received(let cid, let data, _, _): delivered[cid] = data
            case .notFound(let cid, _): notFound.append(cid)
            case .rejected: break
            }
        }
        maxLive = max(maxLive, client.wantedCIDs.count)
    }

    mutating func run(server peer: PeerID, _ actions: [BitswapServerAction]) {
        var pending = actions
        while !pending.isEmpty {
            switch pending.removeFirst() {
            case .lookUp(let cids): pending += servers[peer]!.engine.onLookup(cids.map { ($0, servers[peer]!.blocks[$0]) })
            case .send(let to, let m):
                post(peer, to, m)
                pending += servers[peer]!.engine.onMessageSent(to: to, m)
            }
        }
    }

    mutating func deliver(_ m: InFlight) {
        if m.to == clientPeer {
            guard servers[m.from] != nil else { return }
            run(client: client.onMessage(from: m.from, m.message, now: now))
            return
        }
        guard var server = servers[m.to] else { return }
        if server.forges, let entries = m.message.wantlist?.entries {
            for e in entries where !e.cancel {
                forgeries += 1
                post(m.to, m.from, BitswapMessage(payload: [BitswapPayloadBlock(prefix: BitswapCIDPrefix(of: e.cid), data: [UInt8](repeating: 0xee, count: 40))]))
            }
        }
        let actions = server.engine.onMessage(from: m.from, m.message)
        servers[m.to] = server
        run(server: m.to, actions)
    }

    /// Runs until `done` or `limit` of simulated time; ticks the client every 250 ms.
    mutating func run(until limit: Duration, disconnect: (PeerID, at: Duration)?, done: (Self) -> Bool) {
        var nextTick: Duration = .milliseconds(250)
        var disconnect = disconnect
        while now < limit, !done(self) {
            queue.sort { ($0.at, $0.seq) < ($1.at, $1.seq) }
            let nextMessage = queue.first?.at ?? limit
            if let d = disconnect, d.at <= min(nextMessage, nextTick) {
                now = d.at
                servers[d.0] = nil
                run(client: client.onPeerDisconnected(d.0, now: now))
                disconnect = nil
            } else if nextMessage < nextTick {
                now = nextMessage
                deliver(queue.removeFirst())
            } else {
                now = nextTick
                nextTick += .milliseconds(250)
                run(client: client.onTick(now: now))
            }
        }
    }
}

@Suite struct BitswapExchangeSimulationTests {
    static let seeds: [UInt64] = [1, 2, 3, 5, 8, 13, 21, 34]

    /// 200 blocks spread over three honest servers (one leaves at 300 ms; its blocks are also
    /// on another) and a forging one; the client fetches them all in one session.
    func exchange(seed: UInt64) throws -> BitswapExchangeSimulation {
        var sim = try BitswapExchangeSimulation(seed: seed)
        let honest = (1...3).map { BitswapTestPeers.peer(UInt8($0)) }
        let forger = BitswapTestPeers.peer(9)
        for p in honest + [forger] {
            sim.servers[p] = .init(engine: try BitswapServerEngine(), blocks: [:], forges: p == forger)
            sim.run(client: sim.client.onPeerConnected(p, version: .v1_2_0, now: .zero))
        }
        var cids: [CID] = []
        for i in 0..<200 {
            let data = BitswapFixture.block(i + Int(seed) * 1000, size: 100 + Int.random(in: 0...3000, using: &sim.rng))
            let cid = BitswapFixture.raw(data)
            cids.append(cid)
            var holders = honest.filter { _ in Bool.random(using: &sim.rng) }
            if holders.isEmpty || holders == [honest[2]] { holders.append(honest[0]) }
            for h in holders { sim.servers[h]!.blocks[cid] = data }
        }
        let session = sim.client.newSession()
        sim.run(client: sim.client.want(cids, session: session, now: .zero))
        sim.run(until: .seconds(60), disconnect: (honest[2], at: .milliseconds(300))) { $0.client.isFinished(session) }
        #expect(sim.client.isFinished(session), "seed \(seed): unfinished at \(sim.now)")
        return sim
    }

    @Test("over every seed, all 200 blocks arrive intact despite a forging peer and a peer that leaves, with the window respected")
    func everyBlockArrives() throws {
        for seed in Self.seeds {
            let sim = try exchange(seed: seed)
            #expect(sim.delivered.count == 200, "seed \(seed)")
            #expect(sim.notFound.isEmpty, "seed \(seed)")
            for (cid, data) in sim.delivered { #expect(cid.multihash.verifies(data) == true, "seed \(seed)") }
            #expect(sim.maxLive <= sim.client.settings.sessionWindow, "seed \(seed)")
            #expect(sim.client.counters.blocksUnwanted >= sim.forgeries, "seed \(seed): every forged block rejected")
            #expect(sim.forgeries > 0)
            #expect(sim.now < .seconds(20), "seed \(seed): took \(sim.now)")
        }
    }

    @Test("a seed replays exactly")
    func replays() throws {
        let a = try exchange(seed: 7)
        let b = try exchange(seed: 7)
        #expect(a.now == b.now)
        #expect(a.client.counters == b.client.counters)
        #expect(a.seq == b.seq)
    }
}
