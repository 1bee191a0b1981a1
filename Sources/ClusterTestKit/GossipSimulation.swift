import ClusterModel
public import Gossip
public import Multiformats
import Sodium

/// Many `GossipInstance`s on a `SimulatedNetwork`, with the faults the pubsub scenarios need.
///
/// Every node subscribes to one topic. Each node dials `dialsPerPeer` random others at the start
/// (so it has about twice that many connections). Deliveries, copies and bytes are recorded so
/// properties (complete delivery, bounded redundancy) can be asserted. Not thread-safe.
public final class GossipSimulation {
    public struct Settings {
        public var peers: Int
        public var dialsPerPeer = 8
        public var network = SimulatedNetwork<GossipRPC, Timer>.Settings()
        public var gossip = GossipSettings()
        public var score = PeerScoreSettings()
        public var topic = "pinset/sim"
        /// How long a peer takes to notice that a crashed neighbour is gone.
        public var failureDetection: Duration = .seconds(1)
        /// Encode and decode every frame, to exercise the wire format (slower).
        public var wireRoundTrip = false

        public init(peers: Int) { self.peers = peers }
    }

    public enum Timer { case heartbeat, tick, connect(Int), disconnect(Int), spam }

    public struct Report: CustomStringConvertible {
        public var seed: UInt64
        public var messages = 0
        public var expectedDeliveries = 0
        public var completedDeliveries = 0
        public var latenciesMs: [Double] = []
        public var copies = 0
        public var deliveries = 0
        public var bytesPerPeerPerSecond = 0.0
        public var events = 0
        /// Up to 10 (message index, node) pairs that were expected but never delivered.
        public var missing: [(message: Int, node: Int)] = []

        public var deliveryRatio: Double { expectedDeliveries == 0 ? 1 : Double(completedDeliveries) / Double(expectedDeliveries) }
        public var copiesPerDelivery: Double { deliveries == 0 ? 0 : Double(copies) / Double(deliveries) }
        public func latencyPercentileMs(_ p: Double) -> Double {
            guard !latenciesMs.isEmpty else { return 0 }
            return latenciesMs[min(latenciesMs.count - 1, Int((Double(latenciesMs.count) * p).rounded(.down)))]
        }
        public var description: String {
            "seed \(seed): delivery \(completedDeliveries)/\(expectedDeliveries), p50 \(latencyPercentileMs(0.5)) ms, p99 \(latencyPercentileMs(0.99)) ms, copies/delivery \(copiesPerDelivery), missing \(missing)"
        }
    }

    public let settings: Settings
    public let seed: UInt64
    public private(set) var net: SimulatedNetwork<GossipRPC, Timer>
    public private(set) var nodes: [GossipInstance] = []
    public let ids: [PeerID]
    private let keys: [Ed25519.PrivateKey]
    private let index: [PeerID: Int]
    public private(set) var neighbours: [Set<Int>]
    /// Nodes that never send a message payload (control only): black holes.
    public var blackHoles: Set<Int> = []
    /// Nodes that send `spamPerHeartbeat` invalid messages to every neighbour each heartbeat.
    public private(set) var spammers: Set<Int> = []
    public var spamPerHeartbeat = 5
    private var everDown: Set<Int> = []
    private var published: [(id: MessageID, at: Duration, origin: Int)] = []
    private var deliveredAt: [MessageID: [Int: Duration]] = [:]
    private var copies = 0
    private var deliveries = 0
    private var spamCounter: UInt64 = 0
    private var severed: [(Int, Int)] = []
    /// The earliest pending `.tick` per node, so wake-ups are not scheduled twice.
    private var wakeAt: [Duration?]

    /// Messages whose payload starts with this byte are rejected by every node's validator.
    public static let invalidMarker: UInt8 = 0xBA

    public init(_ settings: Settings, seed: UInt64) throws {
        self.settings = settings
        self.seed = seed
        net = SimulatedNetwork(count: settings.peers, settings: settings.network, seed: seed)
        var keys: [Ed25519.PrivateKey] = []
        for _ in 0..<settings.peers { keys.append(try Ed25519.PrivateKey(seed: net.rng.bytes(32))) }
        self.keys = keys
        ids = try keys.map { try PeerID(ed25519PublicKey: $0.publicKey.bytes) }
        index = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        neighbours = Array(repeating: [], count: settings.peers)
        wakeAt = Array(repeating: nil, count: settings.peers)
        for i in 0..<settings.peers { nodes.append(try makeNode(i)) }
        for i in 0..<settings.peers {
            apply(i, nodes[i].subscribe(settings.topic, now: net.now))
            let period = Int64(settings.gossip.heartbeatInterval / .microseconds(1))
            net.schedule(.heartbeat, for: i, after: .microseconds(Int64.random(in: 0..<period, using: &net.rng)))
        }
        for i in 0..<settings.peers {
            for j in randomPeers(excluding: i, count: settings.dialsPerPeer) { connect(i, j) }
        }
    }

    private func makeNode(_ i: Int) throws -> GossipInstance {
        var node = try GossipInstance(identity: keys[i], settings: settings.gossip, scoreSettings: settings.score, seed: net.rng.next())
        node.setValidator(settings.topic) { $0.data.first == GossipSimulation.invalidMarker ? .reject : .accept }
        return node
    }

    private func randomPeers(excluding i: Int, count: Int) -> [Int] {
        var chosen: [Int] = []
        let n = settings.peers
        while chosen.count < min(count, n - 1) {
            let j = Int.random(in: 0..<n, using: &net.rng)
            if j != i && !chosen.contains(j) { chosen.append(j) }
        }
        return chosen
    }

    // MARK: driving

    /// Runs events until the clock reaches `now + duration`.
    public func run(for duration: Duration) {
        let deadline = net.now + duration
        while let event = net.next(until: deadline) {
            switch event {
            case .deliver(let from, let to, var rpc):
                if settings.wireRoundTrip {
                    do { rpc = try GossipRPC(decoding: rpc.encoded(), maxMessageBytes: settings.gossip.maxMessageBytes) } catch {
                        preconditionFailure("seed \(seed): a frame failed to decode: \(error)")
                    }
                }
                apply(to, nodes[to].receive(rpc, from: ids[from], now: net.now))
            case .timer(let node, .heartbeat):
                apply(node, nodes[node].heartbeat(now: net.now))
                net.schedule(.heartbeat, for: node, after: settings.gossip.heartbeatInterval)
            case .timer(let node, .tick):
                wakeAt[node] = nil
                apply(node, nodes[node].tick(now: net.now))
            case .timer(let node, .connect(let peer)):
                connect(node, peer)
            case .timer(let node, .disconnect(let peer)):
                // Unless the connection was re-established before the failure was noticed.
                if !neighbours[node].contains(peer) { nodes[node].removePeer(ids[peer], now: net.now) }
            case .timer(let node, .spam):
                spam(from: node)
                net.schedule(.spam, for: node, after: settings.gossip.heartbeatInterval)
            }
        }
    }

    /// Publishes a `bytes`-long message from `node`; returns its index among published messages.
    @discardableResult
    public func publish(from node: Int, bytes: Int) throws -> Int {
        var data = [UInt8](repeating: 0, count: max(bytes, 8))
        let n = UInt64(published.count)
        for k in 0..<8 { data[k] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(k))) }
        if data[0] == Self.invalidMarker { data[0] = 0 }
        let (id, actions) = try nodes[node].publish(settings.topic, data, now: net.now)
        published.append((id, net.now, node))
        apply(node, actions)
        return published.count - 1
    }

    private func apply(_ node: Int, _ actions: [GossipAction]) {
        defer {
            if let wake = nodes[node].nextWakeup, wakeAt[node].map({ wake < $0 }) ?? true {
                wakeAt[node] = wake
                net.schedule(.tick, for: node, after: max(.zero, wake - net.now))
            }
        }
        for action in actions {
            switch action {
            case .send(let peer, var rpc):
                guard let j = index[peer] else { continue }
                if blackHoles.contains(node) { rpc.messages = [] }
                if rpc.isEmpty { continue }
                copies += rpc.messages.count
                net.send(from: node, to: j, rpc, bytes: rpc.encoded().count)
            case .deliver(_, let id, _):
                deliveries += 1
                if deliveredAt[id]?[node] == nil { deliveredAt[id, default: [:]][node] = net.now }
            case .connect(let peers, _):
                for peer in peers {
                    guard let j = index[peer], net.alive[j], !neighbours[node].contains(j) else { continue }
                    net.schedule(.connect(j), for: node, after: net.latency(node, j) * 2)
                }
            }
        }
    }

    private func connect(_ a: Int, _ b: Int) {
        guard a != b, net.alive[a], net.alive[b], !neighbours[a].contains(b) else { return }
        neighbours[a].insert(b)
        neighbours[b].insert(a)
        apply(a, nodes[a].addPeer(ids[b], outbound: true, now: net.now))
        apply(b, nodes[b].addPeer(ids[a], outbound: false, now: net.now))
    }

    // MARK: faults

    /// Crashes `node`; its neighbours notice after `failureDetection`.
    public func crash(_ node: Int) {
        net.crash(node)
        everDown.insert(node)
        for j in neighbours[node].sorted() {
            neighbours[j].remove(node)
            net.schedule(.disconnect(node), for: j, after: settings.failureDetection)
        }
        neighbours[node] = []
    }

    /// Restarts a crashed node with a fresh router (same identity), which dials new random peers.
    public func restart(_ node: Int) throws {
        net.restart(node)
        wakeAt[node] = nil
        nodes[node] = try makeNode(node)
        apply(node, nodes[node].subscribe(settings.topic, now: net.now))
        net.schedule(.heartbeat, for: node, after: settings.gossip.heartbeatInterval)
        for j in randomPeers(excluding: node, count: settings.dialsPerPeer) where net.alive[j] {
            net.schedule(.connect(j), for: node, after: net.latency(node, j) * 2)
        }
    }

    /// Splits the network (`groupOf[i]` is node i's side): nothing crosses, and connections across
    /// break when their ends notice (after `failureDetection`), as keepalives would make them.
    public func partition(_ groupOf: [Int]) {
        net.partition(groupOf)
        for a in 0..<settings.peers {
            for b in neighbours[a].sorted() where a < b && groupOf[a] != groupOf[b] {
                neighbours[a].remove(b)
                neighbours[b].remove(a)
                severed.append((a, b))
                net.schedule(.disconnect(b), for: a, after: settings.failureDetection)
                net.schedule(.disconnect(a), for: b, after: settings.failureDetection)
            }
        }
    }

    /// Ends the partition; the broken connections are dialled again.
    public func heal() {
        net.heal()
        for (a, b) in severed where net.alive[a] && net.alive[b] {
            net.schedule(.connect(b), for: a, after: net.latency(a, b) * 2)
        }
        severed = []
    }

    /// Makes `node` send invalid (validator-rejected, correctly signed) messages to all its neighbours every heartbeat.
    public func makeSpammer(_ node: Int) {
        spammers.insert(node)
        net.schedule(.spam, for: node, after: .zero)
    }

    private func spam(from node: Int) {
        var messages: [GossipMessage] = []
        for _ in 0..<spamPerHeartbeat {
            spamCounter += 1
            var m = GossipMessage(from: ids[node], data: [Self.invalidMarker] + spamCounter.littleEndianBytes, seqno: spamCounter, topic: settings.topic)
            if settings.gossip.signaturePolicy == .strictSign { m.sign(with: keys[node]) } else { m.from = nil; m.seqno = nil }
            messages.append(m)
        }
        for j in neighbours[node].sorted() {
            copies += messages.count
            let rpc = GossipRPC(messages: messages)
            net.send(from: node, to: j, rpc, bytes: rpc.encoded().count)
        }
    }

    // MARK: results

    /// Delivery of every published message to every node that never crashed, is not its origin,
    /// and is not a spammer or black hole.
    public func report() -> Report {
        var r = Report(seed: seed)
        r.messages = published.count
        r.copies = copies
        r.deliveries = deliveries
        r.events = net.stats.events
        let receivers = (0..<settings.peers).filter { !everDown.contains($0) && !spammers.contains($0) && !blackHoles.contains($0) }
        for (k, p) in published.enumerated() {
            let got = deliveredAt[p.id] ?? [:]
            for i in receivers where i != p.origin {
                r.expectedDeliveries += 1
                if let t = got[i] {
                    r.completedDeliveries += 1
                    r.latenciesMs.append(Double((t - p.at) / .microseconds(1)) / 1000)
                } else if r.missing.count < 10 {
                    r.missing.append((k, i))
                }
            }
        }
        r.latenciesMs.sort()
        let seconds = net.now / .seconds(1)
        r.bytesPerPeerPerSecond = seconds > 0 ? Double(net.stats.bytes) / Double(settings.peers) / seconds : 0
        return r
    }
}

extension UInt64 {
    fileprivate var littleEndianBytes: [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: self >> (8 * UInt64($0))) } }
}
