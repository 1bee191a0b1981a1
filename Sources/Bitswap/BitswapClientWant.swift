import Multiformats

/// Where one want stands with one peer.
enum BitswapPeerWantState: Sendable, Equatable {
    case askedHave(at: Duration)
    case askedBlock(at: Duration)
    /// The peer said HAVE (or is a 1.0/1.1 peer that sent a block before), and no want-block is out to it.
    case has
    case dontHave

    var isAskedHave: Bool { if case .askedHave = self { true } else { false } }
}

/// One CID the client wants: the sessions waiting for it and what each peer said.
struct BitswapClientWant: Sendable {
    var sessions: Set<BitswapSessionID>
    var peers: [PeerID: BitswapPeerWantState] = [:]
    /// When the want started, or last had a provider (the give-up clock runs from here).
    var lastProvider: Duration
    var lastBroadcast: Duration
    let priority: Int32

    /// The peer a want-block is out to, if any.
    var blockTarget: PeerID? {
        peers.filter { if case .askedBlock = $0.value { true } else { false } }.keys.min()
    }

    /// Peers that said HAVE and have no want-block out, in peer order.
    var holders: [PeerID] { peers.filter { $0.value == .has }.keys.sorted() }

    /// Whether some peer has it or might: a want-block out, or a HAVE.
    var hasProvider: Bool { blockTarget != nil || !holders.isEmpty }
}

/// One session: CIDs to fetch, a window of them in flight, and the peers that had its blocks.
struct BitswapClientSession: Sendable {
    var queue: [CID] = []
    var queueHead = 0
    var live: Set<CID> = []
    /// Peers that said HAVE or sent a block for this session, first seen first.
    var providers: [PeerID] = []
    /// Where the next discovery want-have starts among the connected non-providers.
    var discoveryCursor = 0
    /// Wants in a row that peers which are not providers did not say HAVE for before another
    /// peer delivered them, and when each paused peer may be asked by discovery again.
    var discoveryMisses: [PeerID: Int] = [:]
    var discoveryPausedUntil: [PeerID: Duration] = [:]

    mutating func addProvider(_ peer: PeerID) {
        if !providers.contains(peer) { providers.append(peer) }
        discoveryMisses[peer] = nil
        discoveryPausedUntil[peer] = nil
    }

    /// `peer`, not a provider, had not said HAVE when a want of this session was delivered by
    /// another peer: after `limit` in a row it is paused until `until`.
    mutating func missed(_ peer: PeerID, limit: Int, until: Duration) {
        guard !providers.contains(peer) else { return }
        discoveryMisses[peer, default: 0] += 1
        if discoveryMisses[peer]! >= limit {
            discoveryMisses[peer] = nil
            discoveryPausedUntil[peer] = until
        }
    }

    /// Forgets what discovery learned about `peer` (it disconnected).
    mutating func forget(_ peer: PeerID) {
        providers.removeAll { $0 == peer }
        discoveryMisses[peer] = nil
        discoveryPausedUntil[peer] = nil
    }

    var hasQueued: Bool { queueHead < queue.count }

    mutating func popQueued() -> CID {
        defer {
            queueHead += 1
            if queueHead > 1024 && queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
        }
        return queue[queueHead]
    }

    var isDone: Bool { live.isEmpty && !hasQueued }
}

/// The wantlist entries of one event, per peer; emitted as one message a peer, sorted by peer.
struct BitswapWantOutbox {
    private var entries: [PeerID: [BitswapWantEntry]] = [:]

    mutating func add(_ peer: PeerID, _ entry: BitswapWantEntry) { entries[peer, default: []].append(entry) }

    func messages() -> [BitswapClientAction] {
        entries.sorted { $0.key < $1.key }.map { .send($0.key, BitswapMessage(wantlist: BitswapWantlist(entries: $0.value))) }
    }
}
