import Multiformats

extension BitswapClient {
    /// Time passed: unanswered want-blocks time out, wants without a provider are asked again
    /// or given up (see the rules on ``BitswapClient``). Call it about every half second while
    /// ``hasWants``.
    public mutating func onTick(now: Duration) -> [BitswapClientAction] {
        var out = BitswapWantOutbox()
        var actions: [BitswapClientAction] = []
        var touched: Set<BitswapSessionID> = []
        for cid in wants.keys.sorted() {
            expireBlockWants(cid, now: now, out: &out)
            guard let want = wants[cid], !want.hasProvider else { continue }
            if now - want.lastProvider >= settings.giveUpAfter {
                let ids = want.sessions.sorted()
                for id in ids { sessions[id]?.live.remove(cid) }
                touched.formUnion(ids)
                dropWant(cid, except: nil, out: &out)
                counters.notFound += 1
                actions.append(.notFound(cid, sessions: ids))
            } else if now - want.lastBroadcast >= settings.rebroadcastInterval {
                broadcast(cid, now: now, out: &out)
            }
        }
        for id in touched.sorted() { refill(id, now: now, out: &out) }
        return actions + out.messages()
    }

    private mutating func expireBlockWants(_ cid: CID, now: Duration, out: inout BitswapWantOutbox) {
        guard let want = wants[cid] else { return }
        var lost = false
        for (peer, state) in want.peers.sorted(by: { $0.key < $1.key }) {
            if case .askedBlock(let at) = state, now - at >= settings.blockTimeout {
                setState(cid, peer, .dontHave)
                lost = true
            }
        }
        if lost { retarget(cid, now: now, out: &out) }
    }
}
