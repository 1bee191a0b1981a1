extension GossipRPC {
    /// Entries per piece when a frame is split: 1,000 IDs are about 22 KB encoded.
    static let splitChunk = 1000

    /// This frame as one or more frames that each encode to at most `maxBytes` (given messages
    /// that fit on their own): state changes first, then gossip in chunks, then one message per frame.
    public func split(maxBytes: Int) -> [GossipRPC] {
        if encoded().count <= maxBytes { return [self] }
        var out: [GossipRPC] = []
        for chunk in subscriptions.chunked(Self.splitChunk / 10) { out.append(GossipRPC(subscriptions: chunk)) }
        var state = GossipRPC(graft: graft, prune: prune, choke: choke, unchoke: unchoke)
        if !state.isEmpty {
            if state.encoded().count > maxBytes {
                // Only a pathological frame (a thousand long topics) gets here: one entry per frame.
                out += graft.map { GossipRPC(graft: [$0]) } + prune.map { GossipRPC(prune: [$0]) }
                out += choke.map { GossipRPC(choke: [$0]) } + unchoke.map { GossipRPC(unchoke: [$0]) }
                state = GossipRPC()
            } else {
                out.append(state)
            }
        }
        for entry in ihave {
            for chunk in entry.ids.chunked(Self.splitChunk) { out.append(GossipRPC(ihave: [IHave(topic: entry.topic, ids: chunk)])) }
        }
        for chunk in iwant.chunked(Self.splitChunk) { out.append(GossipRPC(iwant: chunk)) }
        for chunk in idontwant.chunked(Self.splitChunk) { out.append(GossipRPC(idontwant: chunk)) }
        for message in messages { out.append(GossipRPC(messages: [message])) }
        return out
    }
}

extension Array {
    fileprivate func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
