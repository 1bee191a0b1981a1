public import Multiformats

/// What the server engine wants done.
public enum BitswapServerAction: Sendable, Equatable {
    /// Read these blocks from the blockstore and report each with ``BitswapServerEngine/onLookup(_:block:)``.
    case lookUp([CID])
    /// Send this message to this peer, then report it with ``BitswapServerEngine/onMessageSent(to:_:)``.
    case send(PeerID, BitswapMessage)
}

/// Counters for metrics and tests; they only grow.
public struct BitswapServerCounters: Sendable, Equatable {
    public var wantsReceived = 0
    public var cancelsReceived = 0
    /// Wants not kept because the peer's ledger was full.
    public var wantsOverflowed = 0
    /// Wants for identity CIDs (their data is the CID), ignored as boxo ignores them.
    public var wantsIgnored = 0
    public var blocksSent = 0
    public var blockBytesSent = 0
    public var havesSent = 0
    public var dontHavesSent = 0
    public init() {}
}

/// The bitswap server: per-peer ledgers of wants, answered from the shell's blockstore.
///
/// Pure: events in, ``BitswapServerAction``s out, no clock. Rules:
/// - A want-block is answered with the block; a want-have with HAVE, or with the block when it
///   is at most ``BitswapServerSettings/wantHaveReplaceBytes``. An answered want leaves the ledger.
/// - A want whose block is missing stays in the ledger (answered DONT_HAVE once when it asked
///   for one); when the block is stored later (``onBlockStored(_:)``) it is answered then.
///   Asking again for a want in the ledger looks it up again (a client's rebroadcast).
/// - A full wantlist replaces the peer's ledger; a cancel removes the want and any answer
///   queued for it; a disconnect forgets the peer.
/// - Per peer: at most ``BitswapServerSettings/maxWantsPerPeer`` wants, at most
///   ``BitswapServerSettings/maxQueuedBytesPerPeer`` bytes of blocks queued and
///   ``BitswapServerSettings/maxOutstandingBytesPerPeer`` handed out unsent.
/// - Answers go out highest priority first, packed into messages of about
///   ``BitswapServerSettings/targetMessageBytes`` (always under ``BitswapMessage/maxMessageBytes``).
/// - Output is deterministic: lookups in priority order, messages sorted by peer ID.
public struct BitswapServerEngine: Sendable {
    public let settings: BitswapServerSettings
    public internal(set) var counters = BitswapServerCounters()
    var ledgers: [PeerID: BitswapPeerLedger] = [:]
    /// Peers with a want for each CID.
    var wantedBy: [CID: Set<PeerID>] = [:]
    /// CIDs asked of the shell and not yet reported.
    var pendingLookups: Set<CID> = []

    public init(settings: BitswapServerSettings = BitswapServerSettings()) throws(BitswapError) {
        try settings.validate()
        self.settings = settings
    }

    /// The wants the engine holds for `peer`, highest priority first.
    public func wantlist(of peer: PeerID) -> [BitswapWantEntry] {
        (ledgers[peer]?.wants ?? [:]).sorted { $0.value.order(before: $1.value) }.map {
            BitswapWantEntry(cid: $0.key, priority: $0.value.priority, wantType: $0.value.type, sendDontHave: $0.value.sendDontHave)
        }
    }

    /// Bytes of answers queued for `peer` and not yet handed out.
    public func queuedBytes(for peer: PeerID) -> Int { ledgers[peer]?.queuedBytes ?? 0 }

    /// A wantlist from `peer` (the message's blocks and presences are the client's business).
    public mutating func onMessage(from peer: PeerID, _ message: BitswapMessage) -> [BitswapServerAction] {
        guard let list = message.wantlist, !(list.entries.isEmpty && !list.full) else { return [] }
        var ledger = ledgers[peer] ?? BitswapPeerLedger()
        var lookups: [(CID, BitswapServerWant)] = []
        if list.full {
            let kept = Set(list.entries.lazy.filter { !$0.cancel }.map(\.cid))
            for cid in ledger.wants.keys where !kept.contains(cid) { removeWant(cid, of: peer, from: &ledger) }
        }
        for entry in list.entries {
            if entry.cid.multihash.code == .identity {
                counters.wantsIgnored += 1
            } else if entry.cancel {
                counters.cancelsReceived += 1
                removeWant(entry.cid, of: peer, from: &ledger)
            } else if let want = addWant(entry, of: peer, to: &ledger) {
                lookups.append((entry.cid, want))
            }
        }
        ledgers[peer] = ledger
        var actions = lookUp(lookups)
        actions += flush(peer).map { .send(peer, $0) }
        return actions
    }

    /// The peer's connection is gone: forget its ledger and queue.
    public mutating func onPeerDisconnected(_ peer: PeerID) {
        guard let ledger = ledgers.removeValue(forKey: peer) else { return }
        for cid in ledger.wants.keys { unindex(cid, peer) }
    }

    private mutating func addWant(_ entry: BitswapWantEntry, of peer: PeerID, to ledger: inout BitswapPeerLedger) -> BitswapServerWant? {
        counters.wantsReceived += 1
        if var want = ledger.wants[entry.cid] {
            if entry.wantType == .block { want.type = .block }
            want.priority = entry.priority
            want.sendDontHave = want.sendDontHave || entry.sendDontHave
            want.answeredDontHave = false
            ledger.wants[entry.cid] = want
            return want
        }
        guard ledger.wants.count < settings.maxWantsPerPeer else {
            counters.wantsOverflowed += 1
            if entry.sendDontHave { ledger.enqueue(.dontHave(entry.cid), priority: entry.priority) }
            return nil
        }
        let want = BitswapServerWant(type: entry.wantType, priority: entry.priority, sendDontHave: entry.sendDontHave, seq: ledger.nextSeq())
        ledger.wants[entry.cid] = want
        wantedBy[entry.cid, default: []].insert(peer)
        return want
    }

    mutating func removeWant(_ cid: CID, of peer: PeerID, from ledger: inout BitswapPeerLedger) {
        ledger.dropQueued(cid)
        guard ledger.wants.removeValue(forKey: cid) != nil else { return }
        unindex(cid, peer)
    }

    mutating func unindex(_ cid: CID, _ peer: PeerID) {
        wantedBy[cid]?.remove(peer)
        if wantedBy[cid]?.isEmpty == true { wantedBy[cid] = nil }
    }

    /// One lookUp action for the CIDs not already being looked up, highest priority first.
    mutating func lookUp(_ wants: [(CID, BitswapServerWant)], force: Bool = false) -> [BitswapServerAction] {
        var seen: Set<CID> = []
        let cids = wants.sorted { $0.1.order(before: $1.1) }.map(\.0).filter {
            seen.insert($0).inserted && (force || !pendingLookups.contains($0))
        }
        guard !cids.isEmpty else { return [] }
        pendingLookups.formUnion(cids)
        return [.lookUp(cids)]
    }
}
