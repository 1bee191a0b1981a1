public import Multiformats

/// A session's identity; sessions are numbered from 1.
public typealias BitswapSessionID = UInt64

/// What the client wants done.
public enum BitswapClientAction: Sendable, Equatable {
    /// Send this wantlist update to this peer.
    case send(PeerID, BitswapMessage)
    /// A block that hashes to `cid` arrived from `from`; these sessions wanted it.
    case received(CID, [UInt8], from: PeerID, sessions: [BitswapSessionID])
    /// No peer had `cid` within the give-up time; these sessions wanted it.
    case notFound(CID, sessions: [BitswapSessionID])
    /// `peer` sent a block that was not taken (counted, never delivered).
    case rejected(PeerID, BitswapBlockRejection)
}

/// Counters for metrics and tests; they only grow.
public struct BitswapClientCounters: Sendable, Equatable {
    public var blocksReceived = 0
    public var blockBytesReceived = 0
    /// Blocks that hashed to a CID nobody wanted (a wrong hash looks the same), or duplicates.
    public var blocksUnwanted = 0
    /// Blocks under a prefix whose hash function PinMesh cannot compute.
    public var blocksUnverifiable = 0
    public var wantHavesSent = 0
    public var wantBlocksSent = 0
    public var cancelsSent = 0
    public var notFound = 0
    public init() {}
}

/// The bitswap client: wants per CID, the sessions that asked for them, and what each peer said.
///
/// Pure: events in with `now` (a monotonic `Duration`), ``BitswapClientAction``s out. Rules:
/// - A session fetches its CIDs in order with at most ``BitswapClientSettings/sessionWindow`` in
///   flight. A new want goes as want-block to the session's least-busy provider and want-have to
///   its other providers and to ``BitswapClientSettings/discoveryPeersPerWant`` other connected
///   peers in turn (so providers beyond the first are found; a non-provider that had not said
///   HAVE when ``BitswapClientSettings/discoveryMisses`` of the session's wants in a row were
///   delivered is left out for ``BitswapClientSettings/discoveryPause``); with no provider, as
///   want-have to every connected peer (want-block to peers older than 1.2.0, which cannot
///   answer HAVE), except that the least-busy peer that
///   delivered a block within ``BitswapClientSettings/recentProviderWindow`` gets a want-block.
///   Every want asks for DONT_HAVE.
/// - A HAVE makes the peer a provider of the want's sessions and, when no want-block is out for
///   the CID, gets a want-block. A DONT_HAVE, a want-block unanswered for
///   ``BitswapClientSettings/blockTimeout``, or a disconnect moves the want-block to the next
///   peer that said HAVE.
/// - A want with no provider is asked again of every connected peer each
///   ``BitswapClientSettings/rebroadcastInterval`` and given up (``BitswapClientAction/notFound(_:sessions:)``)
///   after ``BitswapClientSettings/giveUpAfter``.
/// - Every block is hashed under its prefix (raw 1.0.0 blocks as CIDv0) and taken only when a
///   want's multihash matches; anything else is counted and rejected, never delivered. A taken
///   block is delivered once, and cancels go to every peer still asked for it.
/// - Output is deterministic: messages one per peer per event, sorted by peer ID.
public struct BitswapClient: Sendable {
    public let settings: BitswapClientSettings
    public internal(set) var counters = BitswapClientCounters()
    /// Connected peers and whether each understands want-have (1.2.0).
    var peers: [PeerID: Bool] = [:]
    var wants: [CID: BitswapClientWant] = [:]
    var byMultihash: [Multihash: Set<CID>] = [:]
    /// Want-blocks out to each peer, to spread them over providers.
    var blocksOut: [PeerID: Int] = [:]
    /// When each connected peer last delivered a wanted block.
    var lastDelivery: [PeerID: Duration] = [:]
    var sessions: [BitswapSessionID: BitswapClientSession] = [:]
    var lastSession: BitswapSessionID = 0
    var priorityCounter: Int32 = .max

    public init(settings: BitswapClientSettings = BitswapClientSettings()) throws(BitswapError) {
        try settings.validate()
        self.settings = settings
    }

    /// CIDs wanted now (in some session's window), sorted.
    public var wantedCIDs: [CID] { wants.keys.sorted() }

    /// Whether any want is live (the shell ticks only while this holds).
    public var hasWants: Bool { !wants.isEmpty }

    /// A new, empty session.
    public mutating func newSession() -> BitswapSessionID {
        lastSession += 1
        sessions[lastSession] = BitswapClientSession()
        return lastSession
    }

    /// Adds `cids` to the end of `session`'s queue and starts what fits its window.
    public mutating func want(_ cids: [CID], session: BitswapSessionID, now: Duration) -> [BitswapClientAction] {
        guard sessions[session] != nil else { return [] }
        sessions[session]!.queue += cids
        var out = BitswapWantOutbox()
        refill(session, now: now, out: &out)
        return out.messages()
    }

    /// Ends `session`: its wants no other session holds are cancelled with every peer asked.
    public mutating func closeSession(_ session: BitswapSessionID) -> [BitswapClientAction] {
        guard let s = sessions.removeValue(forKey: session) else { return [] }
        var out = BitswapWantOutbox()
        for cid in s.live.sorted() {
            wants[cid]?.sessions.remove(session)
            if wants[cid]?.sessions.isEmpty == true { dropWant(cid, except: nil, out: &out) }
        }
        return out.messages()
    }

    /// Withdraws `cids` from `session` (queued or in flight); a want no other session holds
    /// is cancelled with every peer asked.
    public mutating func cancel(_ cids: [CID], session: BitswapSessionID, now: Duration) -> [BitswapClientAction] {
        guard var s = sessions[session] else { return [] }
        let drop = Set(cids)
        if s.hasQueued, s.queue[s.queueHead...].contains(where: drop.contains) {
            s.queue = s.queue[s.queueHead...].filter { !drop.contains($0) }
            s.queueHead = 0
        }
        var out = BitswapWantOutbox()
        for cid in cids.sorted() where s.live.remove(cid) != nil {
            wants[cid]?.sessions.remove(session)
            if wants[cid]?.sessions.isEmpty == true { dropWant(cid, except: nil, out: &out) }
        }
        sessions[session] = s
        refill(session, now: now, out: &out)
        return out.messages()
    }

    /// Whether `session` has nothing left to fetch.
    public func isFinished(_ session: BitswapSessionID) -> Bool { sessions[session]?.isDone ?? true }

    /// A peer speaking bitswap `version` is reachable: it is asked for the wants no peer is known to have.
    public mutating func onPeerConnected(_ peer: PeerID, version: BitswapProtocolVersion, now: Duration) -> [BitswapClientAction] {
        guard peers[peer] == nil else { return [] }
        peers[peer] = version.supportsHave
        var out = BitswapWantOutbox()
        for cid in wants.keys.sorted() where wants[cid]?.hasProvider == false {
            ask(peer, cid, block: !version.supportsHave, now: now, out: &out)
        }
        return out.messages()
    }

    /// A peer is gone: what it was asked moves to other peers.
    public mutating func onPeerDisconnected(_ peer: PeerID, now: Duration) -> [BitswapClientAction] {
        guard peers.removeValue(forKey: peer) != nil else { return [] }
        lastDelivery[peer] = nil
        var out = BitswapWantOutbox()
        for cid in wants.keys.sorted() {
            guard let state = wants[cid]?.peers.removeValue(forKey: peer) else { continue }
            if case .askedBlock = state { retarget(cid, now: now, out: &out) }
        }
        for id in sessions.keys { sessions[id]?.forget(peer) }
        return out.messages()
    }
}
