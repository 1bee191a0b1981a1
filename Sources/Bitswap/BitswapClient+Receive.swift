public import Multiformats

extension BitswapClient {
    /// A message from `peer`: its blocks (verified before they are taken) and presences.
    /// The message's wantlist is the server's business.
    public mutating func onMessage(from peer: PeerID, _ message: BitswapMessage, now: Duration) -> [BitswapClientAction] {
        var out = BitswapWantOutbox()
        var actions: [BitswapClientAction] = []
        var touched: Set<BitswapSessionID> = []
        for result in message.hashedBlocks() {
            switch result {
            case .rejected(let why):
                counters.blocksUnverifiable += 1
                actions.append(.rejected(peer, why))
            case .block(let block):
                let matches = wants[block.cid] != nil ? [block.cid] : (byMultihash[block.cid.multihash] ?? []).sorted()
                guard !matches.isEmpty else {
                    counters.blocksUnwanted += 1
                    actions.append(.rejected(peer, .unwanted(block.cid)))
                    continue
                }
                counters.blocksReceived += 1
                counters.blockBytesReceived += block.data.count
                if peers[peer] != nil { lastDelivery[peer] = now }
                for cid in matches {
                    let sessions = take(cid, from: peer, now: now, out: &out)
                    touched.formUnion(sessions)
                    actions.append(.received(cid, block.data, from: peer, sessions: sessions))
                }
            }
        }
        for presence in message.blockPresences where wants[presence.cid] != nil {
            switch presence.type {
            case .have: onHave(presence.cid, from: peer, now: now, out: &out)
            case .dontHave: onDontHave(presence.cid, from: peer, now: now, out: &out)
            }
        }
        for id in touched.sorted() { refill(id, now: now, out: &out) }
        return actions + out.messages()
    }

    /// Delivers `cid`: the sessions that wanted it, in order; cancels to the other peers asked.
    /// Each peer asked want-have that had not said HAVE by now counts a miss for discovery.
    private mutating func take(_ cid: CID, from peer: PeerID, now: Duration, out: inout BitswapWantOutbox) -> [BitswapSessionID] {
        let sessionIDs = (wants[cid]?.sessions ?? []).sorted()
        let missed = (wants[cid]?.peers ?? [:]).filter { $0.key != peer && ($0.value == .dontHave || $0.value.isAskedHave) }.keys.sorted()
        for id in sessionIDs {
            sessions[id]?.live.remove(cid)
            sessions[id]?.addProvider(peer)
            for p in missed { sessions[id]?.missed(p, limit: settings.discoveryMisses, until: now + settings.discoveryPause) }
        }
        dropWant(cid, except: peer, out: &out)
        return sessionIDs
    }

    private mutating func onHave(_ cid: CID, from peer: PeerID, now: Duration, out: inout BitswapWantOutbox) {
        guard let want = wants[cid] else { return }
        for id in want.sessions { sessions[id]?.addProvider(peer) }
        wants[cid]?.lastProvider = now
        if case .askedBlock = want.peers[peer] { return }
        setState(cid, peer, .has)
        if want.blockTarget == nil { ask(peer, cid, block: true, now: now, out: &out) }
    }

    private mutating func onDontHave(_ cid: CID, from peer: PeerID, now: Duration, out: inout BitswapWantOutbox) {
        guard wants[cid]?.peers[peer] != nil else { return }
        setState(cid, peer, .dontHave)
        retarget(cid, now: now, out: &out)
    }
}
