import ClusterModel
import ClusterTestKit
import Gossip
import Multiformats
import Sodium
import Testing

/// A handful of routers wired by hand, frames passed explicitly.
struct Bench {
    var nodes: [GossipInstance]
    var keys: [Ed25519.PrivateKey]
    var now: Duration = .seconds(1)
    var ids: [PeerID] { nodes.map(\.me) }

    init(_ count: Int, settings: GossipSettings = GossipSettings(), score: PeerScoreSettings = PeerScoreSettings()) throws {
        var rng = SeededRandom(seed: 42)
        keys = try (0..<count).map { _ in try Ed25519.PrivateKey(seed: rng.bytes(32)) }
        nodes = try keys.enumerated().map { try GossipInstance(identity: $1, settings: settings, scoreSettings: score, seed: UInt64($0)) }
    }

    /// Frames in `actions` addressed to `to`.
    static func frames(_ actions: [GossipAction], to peer: PeerID) -> [GossipRPC] {
        actions.compactMap { if case .send(peer, let rpc) = $0 { rpc } else { nil } }
    }
    static func deliveries(_ actions: [GossipAction]) -> [GossipMessage] {
        actions.compactMap { if case .deliver(let m, _, _) = $0 { m } else { nil } }
    }

    /// Delivers every frame in `actions` from `from` to its addressee among our nodes, recursively, in order.
    mutating func pump(_ from: Int, _ actions: [GossipAction]) -> [GossipAction] {
        var all = actions
        var queue = actions.map { (from, $0) }
        while !queue.isEmpty {
            let (src, action) = queue.removeFirst()
            guard case .send(let peer, let rpc) = action, let dst = ids.firstIndex(of: peer) else { continue }
            let out = nodes[dst].receive(rpc, from: ids[src], now: now)
            all += out
            queue += out.map { (dst, $0) }
        }
        return all
    }

    mutating func connect(_ a: Int, _ b: Int) {
        let x = nodes[a].addPeer(ids[b], outbound: true, now: now)
        let y = nodes[b].addPeer(ids[a], outbound: false, now: now)
        _ = pump(a, x)
        _ = pump(b, y)
    }

    mutating func subscribeAll(_ topic: String) {
        for i in nodes.indices { _ = pump(i, nodes[i].subscribe(topic, now: now)) }
    }
}

@Suite struct RouterTests {
    let topic = "pinset/test"

    @Test func meshFormsAndMessagesFlowOnce() throws {
        var b = try Bench(3)
        b.connect(0, 1)
        b.connect(1, 2)
        b.subscribeAll(topic)
        #expect(b.nodes[1].meshPeers(topic) == [b.ids[0], b.ids[2]].sorted())
        #expect(b.nodes[0].meshPeers(topic) == [b.ids[1]])
        let (_, actions) = try b.nodes[0].publish(topic, [1, 2, 3], now: b.now)
        let all = b.pump(0, actions)
        let delivered = Bench.deliveries(all)
        #expect(delivered.count == 2, "node 1 and node 2 deliver once each")
        #expect(delivered.allSatisfy { $0.data == [1, 2, 3] && $0.from == b.ids[0] })
        // Replaying the frame is a duplicate, not a second delivery.
        let replay = b.nodes[1].receive(Bench.frames(actions, to: b.ids[1])[0], from: b.ids[0], now: b.now)
        #expect(Bench.deliveries(replay).isEmpty)
        #expect(b.nodes[1].counters.duplicates == 1)
    }

    @Test func badSignaturesAreRejectedAndDoNotSuppressTheGenuineMessage() throws {
        var b = try Bench(2)
        b.connect(0, 1)
        b.subscribeAll(topic)
        var m = GossipMessage(from: b.ids[0], data: [9], seqno: 1, topic: topic)
        m.sign(with: b.keys[0])
        var forged = m
        forged.signature = [UInt8](repeating: 0, count: 64)
        let first = b.nodes[1].receive(GossipRPC(messages: [forged]), from: b.ids[0], now: b.now)
        #expect(Bench.deliveries(first).isEmpty)
        #expect(b.nodes[1].counters.rejected == 1)
        let second = b.nodes[1].receive(GossipRPC(messages: [m]), from: b.ids[0], now: b.now)
        #expect(Bench.deliveries(second).count == 1)
        #expect(b.nodes[1].score(of: b.ids[0], now: b.now) < 0)
    }

    @Test func invalidMessagesGraylistTheSender() throws {
        var b = try Bench(2)
        b.connect(0, 1)
        b.subscribeAll(topic)
        b.nodes[1].setValidator(topic) { $0.data.first == 0xBA ? .reject : .accept }
        var seq: UInt64 = 0
        func message(_ first: UInt8) -> GossipMessage {
            seq += 1
            var m = GossipMessage(from: b.ids[0], data: [first, UInt8(seq)], seqno: seq, topic: topic)
            m.sign(with: b.keys[0])
            return m
        }
        var rejected = 0
        while b.nodes[1].score(of: b.ids[0], now: b.now) >= PeerScoreSettings().graylistThreshold {
            _ = b.nodes[1].receive(GossipRPC(messages: [message(0xBA)]), from: b.ids[0], now: b.now)
            rejected += 1
            #expect(rejected < 10, "graylisted within a handful of invalid messages")
            if rejected >= 10 { break }
        }
        // Once graylisted, even valid frames are ignored, and the peer left our mesh at the heartbeat.
        let ignored = b.nodes[1].receive(GossipRPC(messages: [message(1)]), from: b.ids[0], now: b.now)
        #expect(Bench.deliveries(ignored).isEmpty)
        #expect(b.nodes[1].counters.graylistedFrames == 1)
        _ = b.nodes[1].heartbeat(now: b.now)
        #expect(b.nodes[1].meshPeers(topic).isEmpty)
    }

    @Test func graftDuringBackoffIsPenalisedAndPruned() throws {
        var b = try Bench(2)
        b.connect(0, 1)
        b.subscribeAll(topic)
        _ = b.nodes[1].receive(GossipRPC(prune: [.init(topic: topic, backoffSeconds: 60)]), from: b.ids[0], now: b.now)
        #expect(b.nodes[1].meshPeers(topic).isEmpty)
        // Node 1 pruned node 0 when asked; now node 0 misbehaves by grafting onto node 1 ... the other way round:
        _ = b.nodes[0].receive(GossipRPC(prune: [.init(topic: topic, backoffSeconds: 60)]), from: b.ids[1], now: b.now)
        let reply = b.nodes[1].receive(GossipRPC(graft: [topic]), from: b.ids[0], now: b.now)
        #expect(Bench.frames(reply, to: b.ids[0]).first?.prune.first?.topic == topic)
        #expect(b.nodes[1].score(of: b.ids[0], now: b.now) < 0, "GRAFT within the backoff costs a behaviour penalty")
    }

    @Test func meshStaysWithinBoundsAndKeepsOutboundPeers() throws {
        var s = GossipSettings()
        s.floodPublish = false
        var b = try Bench(20, settings: s)
        for j in 1..<20 { b.connect(0, j) }  // node 0 dialled everyone: all outbound from its side
        b.subscribeAll(topic)
        // Every other node has node 0 as its only peer and grafted it: node 0 is over d_hi.
        #expect(b.nodes[0].meshPeers(topic).count == 19)
        let beat = b.nodes[0].heartbeat(now: b.now)
        #expect(b.nodes[0].meshPeers(topic).count == s.d)
        let prunes = beat.compactMap { if case .send(_, let r) = $0, let p = r.prune.first { p } else { nil } }
        #expect(prunes.count == 19 - s.d)
        #expect(prunes.allSatisfy { !$0.peers.isEmpty && $0.backoffSeconds == 60 }, "pruned peers get peer exchange and the backoff")
        _ = b.pump(0, beat)
        // A pruned peer that grafts again within the backoff is refused and penalised.
        let pruned = try #require(b.ids.indices.dropFirst().first { !b.nodes[0].meshPeers(topic).contains(b.ids[$0]) })
        let refusal = b.nodes[0].receive(GossipRPC(graft: [topic]), from: b.ids[pruned], now: b.now)
        #expect(Bench.frames(refusal, to: b.ids[pruned]).first?.prune.isEmpty == false)
        #expect(b.nodes[0].score(of: b.ids[pruned], now: b.now) < 0)
        #expect(b.nodes[0].meshPeers(topic).count == s.d)
    }

    @Test func brokenPromisesArePenalised() throws {
        var b = try Bench(2)
        b.connect(0, 1)
        b.subscribeAll(topic)
        let fake = MessageID(bytes: [UInt8](repeating: 0xAB, count: 20))
        let ask = b.nodes[1].receive(GossipRPC(ihave: [.init(topic: topic, ids: [fake])]), from: b.ids[0], now: b.now)
        #expect(Bench.frames(ask, to: b.ids[0]).first?.iwant == [fake])
        // A second advertisement of the same message within a heartbeat does not ask again.
        let again = b.nodes[1].receive(GossipRPC(ihave: [.init(topic: topic, ids: [fake])]), from: b.ids[0], now: b.now)
        #expect(Bench.frames(again, to: b.ids[0]).isEmpty)
        let fake2 = MessageID(bytes: [UInt8](repeating: 0xCD, count: 20))
        _ = b.nodes[1].receive(GossipRPC(ihave: [.init(topic: topic, ids: [fake2])]), from: b.ids[0], now: b.now)
        b.now += GossipSettings().iwantFollowupTime + .milliseconds(1)
        _ = b.nodes[1].heartbeat(now: b.now)
        // Two broken promises: the first is forgiven (threshold 1), the second costs (2 − 1)² × −10.
        #expect(b.nodes[1].counters.brokenPromises == 2)
        #expect(b.nodes[1].score(of: b.ids[0], now: b.now) < 0)
    }

    @Test func ihaveFloodIsCappedPerHeartbeat() throws {
        var b = try Bench(2)
        b.connect(0, 1)
        b.subscribeAll(topic)
        let limit = GossipSettings().maxIHaveMessages
        var asked = 0
        for k in 0..<(limit + 1) {
            let id = MessageID(bytes: [UInt8](repeating: UInt8(k), count: 20))
            let out = b.nodes[1].receive(GossipRPC(ihave: [.init(topic: topic, ids: [id])]), from: b.ids[0], now: b.now)
            asked += Bench.frames(out, to: b.ids[0]).count
        }
        #expect(asked == limit, "exactly max_ihave_messages IHAVEs answered per heartbeat")
    }

    @Test func strictNoSignCarriesNoAuthor() throws {
        var s = GossipSettings()
        s.signaturePolicy = .strictNoSign
        var b = try Bench(2, settings: s)
        b.connect(0, 1)
        b.subscribeAll(topic)
        let (_, actions) = try b.nodes[0].publish(topic, [5], now: b.now)
        let frame = try #require(Bench.frames(actions, to: b.ids[1]).first)
        #expect(frame.messages[0].from == nil && frame.messages[0].signature == nil)
        #expect(Bench.deliveries(b.pump(0, actions)).count == 1)
        var signed = GossipMessage(from: b.ids[0], data: [6], seqno: 1, topic: topic)
        signed.sign(with: b.keys[0])
        #expect(Bench.deliveries(b.nodes[1].receive(GossipRPC(messages: [signed]), from: b.ids[0], now: b.now)).isEmpty)
    }

    @Test func peerExchangeOnlyFromWellScoredPeers() throws {
        var b = try Bench(3)
        b.connect(0, 1)
        b.subscribeAll(topic)
        let px = GossipRPC(prune: [.init(topic: topic, peers: [b.ids[2]], backoffSeconds: 10)])
        #expect(!b.nodes[1].receive(px, from: b.ids[0], now: b.now).contains { if case .connect = $0 { true } else { false } })
        b.nodes[1].setApplicationScore(b.ids[0], 20)
        #expect(b.nodes[1].receive(px, from: b.ids[0], now: b.now).contains(.connect([b.ids[2]], topic: topic)))
    }

    @Test func chokedPeersAnnounceAndAreAskedOnlyWhenThePushIsLate() throws {
        var s = GossipSettings()
        s.dUnchoked = 1
        var b = try Bench(4, settings: s)
        for j in 1...3 { b.connect(0, j) }
        b.subscribeAll(topic)
        #expect(b.nodes[0].meshPeers(topic).count == 3)
        // Node 1 brings every message first; at the heartbeat node 0 chokes nodes 2 and 3.
        for k in 0..<5 { _ = b.pump(1, try b.nodes[1].publish(topic, [UInt8(k)], now: b.now).1) }
        let beat = b.nodes[0].heartbeat(now: b.now)
        let choked = b.ids.indices.filter { j in Bench.frames(beat, to: b.ids[j]).contains { $0.choke == [topic] } }
        #expect(choked == [2, 3])
        _ = b.pump(0, beat)
        // Node 2 now relays to node 0 by announcement: a message from node 3 reaches node 2 ...
        let fromThree = try b.nodes[3].publish(topic, [42], now: b.now)
        let atZero = b.nodes[0].receive(Bench.frames(fromThree.1, to: b.ids[0])[0], from: b.ids[3], now: b.now)
        // ... and node 0 (which choked 2, and was choked by nobody) pushes to 1 and 2 in full.
        #expect(Bench.frames(atZero, to: b.ids[1]).first?.messages.count == 1)
        // An announcement from a choked peer waits lazy_want_delay for a pushed copy, then asks.
        let unseen = MessageID(bytes: [UInt8](repeating: 0x77, count: 20))
        let quiet = b.nodes[0].receive(GossipRPC(ihave: [.init(topic: topic, ids: [unseen])]), from: b.ids[2], now: b.now)
        #expect(Bench.frames(quiet, to: b.ids[2]).isEmpty)
        #expect(b.nodes[0].nextWakeup == b.now + s.lazyWantDelay)
        #expect(b.nodes[0].tick(now: b.now + s.lazyWantDelay - .milliseconds(1)).isEmpty)
        let ask = b.nodes[0].tick(now: b.now + s.lazyWantDelay)
        #expect(Bench.frames(ask, to: b.ids[2]).first?.iwant == [unseen])
        #expect(b.nodes[0].nextWakeup == nil)
    }

    @Test func aChokedLinkCarriesIHaveInsteadOfTheMessage() throws {
        var b = try Bench(3)
        b.connect(0, 1)
        b.connect(1, 2)
        b.subscribeAll(topic)
        _ = b.nodes[1].receive(GossipRPC(choke: [topic]), from: b.ids[2], now: b.now)
        let (id, actions) = try b.nodes[0].publish(topic, [1], now: b.now)
        let out = b.nodes[1].receive(Bench.frames(actions, to: b.ids[1])[0], from: b.ids[0], now: b.now)
        let toTwo = Bench.frames(out, to: b.ids[2])
        #expect(toTwo.count == 1 && toTwo[0].messages.isEmpty && toTwo[0].ihave == [.init(topic: topic, ids: [id])])
        _ = b.nodes[1].receive(GossipRPC(unchoke: [topic]), from: b.ids[2], now: b.now)
        let (_, more) = try b.nodes[0].publish(topic, [2], now: b.now)
        let pushed = b.nodes[1].receive(Bench.frames(more, to: b.ids[1])[0], from: b.ids[0], now: b.now)
        #expect(Bench.frames(pushed, to: b.ids[2]).first?.messages.count == 1)
    }

    @Test func aPeerJoiningATopicHearsOfCachedMessages() throws {
        var b = try Bench(2)
        _ = b.nodes[0].subscribe(topic, now: b.now)
        let (id, _) = try b.nodes[0].publish(topic, [1], now: b.now)
        _ = b.nodes[0].addPeer(b.ids[1], outbound: true, now: b.now)
        let out = b.nodes[0].receive(GossipRPC(subscriptions: [.init(subscribe: true, topic: topic)]), from: b.ids[1], now: b.now)
        #expect(Bench.frames(out, to: b.ids[1]).first?.ihave == [.init(topic: topic, ids: [id])])
    }

    @Test func publishLimits() throws {
        var b = try Bench(1)
        #expect(throws: GossipError.self) { try b.nodes[0].publish(topic, [UInt8](repeating: 0, count: GossipSettings().maxMessageBytes + 1), now: b.now) }
        _ = try b.nodes[0].publish(topic, [UInt8](repeating: 0, count: GossipSettings().maxMessageBytes), now: b.now)
        #expect(throws: GossipError.self) { try b.nodes[0].publish("", [1], now: b.now) }
    }

    @Test func settingsValidationNamesTheSetting() {
        var s = GossipSettings()
        s.dLow = 9
        #expect { try s.validate() } throws: { ($0 as? GossipError)?.message.contains("d_lo") == true }
        var p = PeerScoreSettings()
        p.graylistThreshold = 1
        #expect(throws: GossipError.self) { try p.validate() }
    }
}
