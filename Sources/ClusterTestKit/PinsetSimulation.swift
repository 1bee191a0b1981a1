public import ClusterModel
public import Multiformats
public import Pinset

/// The pinset's sync protocol on the simulated network: announcements (with inline nodes)
/// broadcast after each commit and every `announceInterval`, paged fetches of missing
/// ancestors with a timeout, as `Node.PinsetService` does over the real transport.
///
/// Broadcasts are modelled as one independent send to every other peer, each lost with the
/// network's loss rate: harsher than pubsub, which retransmits through gossip.
public struct PinsetSimulation {
    public enum Message {
        case announce([UInt8])
        case fetch(token: Int, [UInt8])
        case page(token: Int, [UInt8])
    }

    public enum Timer {
        case announce
        case fetchTimeout(token: Int)
    }

    public struct Settings: Sendable {
        public var peers = 5
        public var network = SimulatedNetwork<Message, Timer>.Settings()
        public var announceInterval: Duration = .seconds(1)
        public var fetchTimeout: Duration = .seconds(2)
        /// Peers whose deltas the others ignore (they trust everyone else).
        public var untrusted: Set<Int> = []
        public var pageBudget = DeltaNode.maxBytes

        public init() {}
    }

    public let settings: Settings
    public var net: SimulatedNetwork<Message, Timer>
    public private(set) var replicas: [PinsetReplica<MemoryPinsetStore>]
    /// Every node a trusted peer committed, in commit order (a causal order).
    public private(set) var trustedHistory: [[UInt8]] = []
    public private(set) var fetches = 0
    private var awaiting: [Int?]
    private var wanted: [[Int: [CID]]]
    /// The heads of the last page each peer applied (sent as `have` in its next request).
    private var lastPage: [[CID]]
    private var nextToken = 0

    public init(settings: Settings, seed: UInt64) {
        self.settings = settings
        net = SimulatedNetwork(count: settings.peers, settings: settings.network, seed: seed)
        var rs: [PinsetReplica<MemoryPinsetStore>] = []
        let ids = (0..<settings.peers).map { PinsetReplica(seed: seed &* 1000 &+ UInt64($0), store: MemoryPinsetStore()).id }
        let trusted = Set(ids.enumerated().filter { !settings.untrusted.contains($0.offset) }.map(\.element))
        for i in 0..<settings.peers {
            let trust: TrustPolicy = settings.untrusted.contains(i) ? .everyone : .peers(trusted)
            rs.append(PinsetReplica(seed: seed &* 1000 &+ UInt64(i), trust: trust, store: MemoryPinsetStore()))
        }
        replicas = rs
        awaiting = Array(repeating: nil, count: settings.peers)
        wanted = Array(repeating: [:], count: settings.peers)
        lastPage = Array(repeating: [], count: settings.peers)
        for i in 0..<settings.peers { startTimers(i) }
    }

    private mutating func startTimers(_ i: Int) {
        // Stagger the announcements so peers do not all speak at once.
        let offset = Duration.microseconds(Int64(net.rng.next() % UInt64(settings.announceInterval / .microseconds(1))))
        net.schedule(.announce, for: i, after: offset)
    }

    // MARK: Driving

    /// Commits `ops` on peer `i` now and broadcasts the new nodes.
    public mutating func write(_ i: Int, _ ops: [PinsetOperation]) throws {
        guard net.alive[i] else { return }
        let nodes = try replicas[i].commit(ops)
        if !settings.untrusted.contains(i) { trustedHistory += nodes }
        announce(i, nodes: nodes)
    }

    /// Runs events for `duration` of simulated time.
    public mutating func run(for duration: Duration) throws {
        let deadline = net.now + duration
        while let event = net.next(until: deadline) {
            switch event {
            case .timer(let i, .announce):
                announce(i, nodes: [])
                net.schedule(.announce, for: i, after: settings.announceInterval)
            case .timer(let i, .fetchTimeout(let token)):
                if awaiting[i] == token {
                    awaiting[i] = nil
                    startFetch(i)
                }
            case .deliver(let from, let to, .announce(let bytes)):
                try received(bytes, at: to, from: from)
            case .deliver(let from, let to, .fetch(let token, let bytes)):
                let page = try serve(to, bytes)
                net.send(from: to, to: from, .page(token: token, page), bytes: page.count)
            case .deliver(let from, let to, .page(let token, let bytes)):
                guard awaiting[to] == token else { continue }
                awaiting[to] = nil
                let page = try PinsetFetchResponse(decoding: bytes)
                let before = lastPage[to]
                if apply(page.nodes, at: to) {
                    let store = replicas[to].store
                    lastPage[to] = SyncWalk.pageHeads(page.nodes.map(DeltaNode.cid(of:))) { store.links(of: $0) }
                    // Ask again while the responder has more and the page moved us forward.
                    if page.remaining > 0 && lastPage[to] != before {
                        wanted[to][from] = Array(Set((wanted[to][from] ?? []) + page.heads))
                    }
                }
                startFetch(to)
            }
        }
    }

    /// Crashes peer `i`: its store survives (it is durable), its volatile sync state does not.
    public mutating func crash(_ i: Int) {
        net.crash(i)
        awaiting[i] = nil
        wanted[i] = [:]
        lastPage[i] = []
    }

    public mutating func restart(_ i: Int) {
        net.restart(i)
        startTimers(i)
    }

    // MARK: Protocol

    private mutating func announce(_ i: Int, nodes: [[UInt8]]) {
        let heads = replicas[i].store.heads()
        guard !heads.isEmpty else { return }
        var inline: [[UInt8]] = []
        var size = 0
        for n in nodes where size + n.count <= PinsetAnnouncement.maxInlineBytes {
            inline.append(n)
            size += n.count
        }
        let bytes = PinsetAnnouncement(heads: heads, nodes: inline).encoded()
        for j in 0..<settings.peers where j != i { net.send(from: i, to: j, .announce(bytes), bytes: bytes.count) }
    }

    private mutating func received(_ bytes: [UInt8], at i: Int, from j: Int) throws {
        let a = try PinsetAnnouncement(decoding: bytes)
        _ = apply(a.nodes, at: i)
        let store = replicas[i].store
        let unknown = a.heads.filter { store.links(of: $0) == nil }
        guard !unknown.isEmpty else { return }
        wanted[i][j] = unknown
        startFetch(i)
    }

    private mutating func startFetch(_ i: Int) {
        guard awaiting[i] == nil else { return }
        let store = replicas[i].store
        while let (peer, want) = wanted[i].min(by: { $0.key < $1.key }) {
            wanted[i][peer] = nil
            let still = want.filter { store.links(of: $0) == nil }
            guard !still.isEmpty else { continue }
            nextToken += 1
            awaiting[i] = nextToken
            fetches += 1
            let have = SyncWalk.frontier(heads: store.heads(), extra: lastPage[i]) { store.links(of: $0) }
            let request = PinsetFetchRequest(want: still, have: have).encoded()
            net.send(from: i, to: peer, .fetch(token: nextToken, request), bytes: request.count)
            net.schedule(.fetchTimeout(token: nextToken), for: i, after: settings.fetchTimeout)
            // Until the answer comes, keep what we want from this peer.
            wanted[i][peer] = []
            return
        }
    }

    private func serve(_ i: Int, _ bytes: [UInt8]) throws -> [UInt8] {
        let request = try PinsetFetchRequest(decoding: bytes)
        let store = replicas[i].store
        let want = request.want.isEmpty ? store.heads() : request.want
        let missing = SyncWalk.missing(want: want, have: request.have) { store.links(of: $0) }
        var nodes: [[UInt8]] = []
        var size = 0
        for c in missing {
            let b = store.nodeBytes(c)!
            guard nodes.isEmpty || size + b.count <= settings.pageBudget else { break }
            nodes.append(b)
            size += b.count
        }
        return PinsetFetchResponse(nodes: nodes, remaining: missing.count - nodes.count, heads: want).encoded()
    }

    /// Applies nodes in order. True when every node is now applied (new or known before);
    /// false at the first refused one.
    private mutating func apply(_ nodes: [[UInt8]], at i: Int) -> Bool {
        for n in nodes {
            do { _ = try replicas[i].rules.apply(n, to: &replicas[i].store) } catch { return false }
        }
        return true
    }

    // MARK: Checking

    /// The state the merge rules define: every trusted node applied on a fresh replica.
    public func referenceState() throws -> [CID: Pin] {
        var r = PinsetReplica(seed: 0xABCDEF, store: MemoryPinsetStore())
        try r.receive(trustedHistory)
        return r.store.pins
    }

    /// Whether every live trusted peer holds exactly `reference`.
    public func allLive(equal reference: [CID: Pin]) -> Bool {
        replicas.indices.allSatisfy { !net.alive[$0] || settings.untrusted.contains($0) || replicas[$0].store.pins == reference }
    }
}
