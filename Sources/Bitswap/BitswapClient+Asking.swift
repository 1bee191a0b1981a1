import Multiformats

extension BitswapClient {
    /// Starts queued CIDs of `session` while its window and the live-want cap allow.
    mutating func refill(_ id: BitswapSessionID, now: Duration, out: inout BitswapWantOutbox) {
        while let s = sessions[id], s.live.count < settings.sessionWindow, s.hasQueued, wants.count < settings.maxLiveWants {
            let cid = sessions[id]!.popQueued()
            guard sessions[id]!.live.insert(cid).inserted else { continue }
            if wants[cid] != nil {
                wants[cid]!.sessions.insert(id)
            } else {
                start(cid, session: id, now: now, out: &out)
            }
        }
    }

    private mutating func start(_ cid: CID, session: BitswapSessionID, now: Duration, out: inout BitswapWantOutbox) {
        priorityCounter = priorityCounter > 1 ? priorityCounter - 1 : .max
        wants[cid] = BitswapClientWant(sessions: [session], lastProvider: now, lastBroadcast: now, priority: priorityCounter)
        byMultihash[cid.multihash, default: []].insert(cid)
        let providers = sessions[session]!.providers.filter { peers[$0] != nil }
        guard let best = providers.min(by: { (blocksOut[$0] ?? 0, $0) < (blocksOut[$1] ?? 0, $1) }) else {
            if let recent = recentProvider(now: now) { ask(recent, cid, block: true, now: now, out: &out) }
            broadcast(cid, now: now, out: &out)
            return
        }
        ask(best, cid, block: true, now: now, out: &out)
        for other in providers where other != best && peers[other] == true { ask(other, cid, block: false, now: now, out: &out) }
        discover(cid, session: session, now: now, out: &out)
    }

    /// Asks ``BitswapClientSettings/discoveryPeersPerWant`` connected 1.2.0 peers that are not
    /// providers of `session` (nor paused for their misses) whether they have `cid`, the
    /// next ones in turn.
    private mutating func discover(_ cid: CID, session: BitswapSessionID, now: Duration, out: inout BitswapWantOutbox) {
        guard settings.discoveryPeersPerWant > 0, let s = sessions[session] else { return }
        let others = peers.filter { p in
            p.value && !s.providers.contains(p.key) && s.discoveryPausedUntil[p.key].map { now >= $0 } ?? true
        }.keys.sorted()
        guard !others.isEmpty else { return }
        let n = min(settings.discoveryPeersPerWant, others.count)
        for k in 0..<n { ask(others[(s.discoveryCursor + k) % others.count], cid, block: false, now: now, out: &out) }
        sessions[session]!.discoveryCursor = (s.discoveryCursor + n) % others.count
    }

    /// The least-busy connected peer that delivered a block within the recent-provider window.
    private func recentProvider(now: Duration) -> PeerID? {
        guard settings.recentProviderWindow > .zero else { return nil }
        return lastDelivery.filter { peers[$0.key] != nil && now - $0.value <= settings.recentProviderWindow }.keys
            .min { (blocksOut[$0] ?? 0, $0) < (blocksOut[$1] ?? 0, $1) }
    }

    /// Asks `peer` for `cid`: want-block when `block` or when the peer cannot answer want-have.
    mutating func ask(_ peer: PeerID, _ cid: CID, block: Bool, now: Duration, out: inout BitswapWantOutbox) {
        guard let supportsHave = peers[peer], let want = wants[cid] else { return }
        let asBlock = block || !supportsHave
        out.add(peer, BitswapWantEntry(cid: cid, priority: want.priority, wantType: asBlock ? .block : .have, sendDontHave: true))
        setState(cid, peer, asBlock ? .askedBlock(at: now) : .askedHave(at: now))
        if asBlock {
            counters.wantBlocksSent += 1
            wants[cid]?.lastProvider = now
        } else {
            counters.wantHavesSent += 1
        }
    }

    /// Asks every connected peer without a want-block out for `cid` whether it has it.
    mutating func broadcast(_ cid: CID, now: Duration, out: inout BitswapWantOutbox) {
        for peer in peers.keys.sorted() {
            if case .askedBlock = wants[cid]?.peers[peer] { continue }
            ask(peer, cid, block: false, now: now, out: &out)
        }
        wants[cid]?.lastBroadcast = now
    }

    /// The want-block for `cid` was lost: send it to the next peer that said HAVE, if any.
    mutating func retarget(_ cid: CID, now: Duration, out: inout BitswapWantOutbox) {
        guard let want = wants[cid], want.blockTarget == nil else { return }
        guard let next = want.holders.min(by: { (blocksOut[$0] ?? 0, $0) < (blocksOut[$1] ?? 0, $1) }) else { return }
        ask(next, cid, block: true, now: now, out: &out)
    }

    /// Records what `peer` was asked or said about `cid`, keeping the want-block counts.
    mutating func setState(_ cid: CID, _ peer: PeerID, _ state: BitswapPeerWantState?) {
        guard wants[cid] != nil else { return }
        if case .askedBlock = wants[cid]!.peers[peer] { blocksOut[peer, default: 1] -= 1 }
        wants[cid]!.peers[peer] = state
        if case .askedBlock = state { blocksOut[peer, default: 0] += 1 }
        if blocksOut[peer] == 0 { blocksOut[peer] = nil }
    }

    /// Forgets `cid`, cancelling it with every connected peer still asked (all but `except`).
    mutating func dropWant(_ cid: CID, except: PeerID?, out: inout BitswapWantOutbox) {
        guard let want = wants[cid] else { return }
        for (peer, state) in want.peers.sorted(by: { $0.key < $1.key }) {
            if peer != except, state != .has, peers[peer] != nil {
                out.add(peer, .cancel(cid))
                counters.cancelsSent += 1
            }
            setState(cid, peer, nil)
        }
        wants[cid] = nil
        byMultihash[cid.multihash]?.remove(cid)
        if byMultihash[cid.multihash]?.isEmpty == true { byMultihash[cid.multihash] = nil }
    }
}
