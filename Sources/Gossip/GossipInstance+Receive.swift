public import Multiformats

extension GossipInstance {
    /// Most topics one peer may announce; announcements beyond it are ignored.
    static let maxTopicsPerPeer = 1024

    /// A frame from `peer`: subscriptions, messages and control, in that order.
    public mutating func receive(_ rpc: GossipRPC, from peer: PeerID, now: Duration) -> [GossipAction] {
        guard peers[peer] != nil else { return [] }
        if score.score(peer, now: now) < score.settings.graylistThreshold {
            counters.graylistedFrames += 1
            return []
        }
        var out = Outbox()
        processLazyWants(now: now, &out)
        for sub in rpc.subscriptions { handleSubscription(sub, from: peer, now: now, &out) }
        for id in rpc.idontwant.prefix(settings.maxIHaveLength) {
            peers[peer]!.dontWant.insert(id, expires: now + settings.idontwantTTL)
        }
        peers[peer]!.dontWant.trim(to: settings.maxIDontWantPerPeer)
        for message in rpc.messages { handleMessage(message, from: peer, now: now, &out) }
        handleControl(rpc, from: peer, now: now, &out)
        return out.actions()
    }

    private mutating func handleSubscription(_ sub: GossipRPC.Subscription, from peer: PeerID, now: Duration, _ out: inout Outbox) {
        if sub.subscribe {
            guard peers[peer]!.topics.count < Self.maxTopicsPerPeer, !peers[peer]!.topics.contains(sub.topic) else { return }
            peers[peer]!.topics.insert(sub.topic)
            topicPeers[sub.topic, default: []].insert(peer)
            // Catch-up: a peer that (re)joins a topic of ours hears of everything still cached, so a
            // restart or a healed partition shorter than the history loses nothing.
            if subscriptions.contains(sub.topic) {
                let ids = mcache.historyIDs(topic: sub.topic).suffix(settings.maxIHaveLength)
                if !ids.isEmpty { out.to(peer) { $0.ihave.append(.init(topic: sub.topic, ids: Array(ids))) } }
            }
        } else {
            peers[peer]!.topics.remove(sub.topic)
            topicPeers[sub.topic]?.remove(peer)
            leaveMesh(peer, sub.topic)
            fanout[sub.topic]?.remove(peer)
        }
    }

    private mutating func handleMessage(_ message: GossipMessage, from peer: PeerID, now: Duration, _ out: inout Outbox) {
        guard subscriptions.contains(message.topic) else {
            counters.ignored += 1
            return
        }
        guard message.data.count <= settings.maxMessageBytes, conformsToPolicy(message) else {
            counters.rejected += 1
            score.rejectedUnseen(from: peer, topic: message.topic)
            return
        }
        // One encoding serves the ID and, for a new message, the signature check.
        let unsigned = message.encoded(includingSignature: false)
        let id = GossipMessage.id(unsigned: unsigned)
        if seen.contains(id) {
            counters.duplicates += 1
            score.duplicate(id, from: peer, topic: message.topic, now: now)
            return
        }
        // The ID does not cover the signature: check it before marking the ID seen, so a forged
        // copy that races ahead cannot suppress the genuine message.
        if settings.signaturePolicy == .strictSign, !message.hasValidSignature(unsigned: unsigned) {
            counters.rejected += 1
            score.rejectedUnseen(from: peer, topic: message.topic)
            return
        }
        seen.insert(id, expires: now + settings.seenTTL)
        promises[id] = nil
        if lazy.removeValue(forKey: id) == nil { noteFirst(peer, topic: message.topic) }
        if message.from == me { return }

        let verdict = validators[message.topic]?(message) ?? .accept
        switch verdict {
        case .reject:
            counters.rejected += 1
            score.firstDelivery(id, from: peer, topic: message.topic, verdict: .invalid, now: now)
        case .ignore:
            counters.ignored += 1
            score.firstDelivery(id, from: peer, topic: message.topic, verdict: .ignored, now: now)
        case .accept:
            score.firstDelivery(id, from: peer, topic: message.topic, verdict: .valid, now: now)
            counters.delivered += 1
            mcache.put(id, message)
            out.append(.deliver(message, id, via: peer))
            forward(message, id, from: peer, now: now, &out)
        }
    }

    /// Relays to the topic's mesh, except the sender, the author, and peers that said IDONTWANT.
    ///
    /// For large messages an IDONTWANT frame goes first to every mesh peer but the sender, as its
    /// own action, so the shell can send it ahead of the (slower) message frames.
    private mutating func forward(_ message: GossipMessage, _ id: MessageID, from source: PeerID, now: Duration, _ out: inout Outbox) {
        let members = (mesh[message.topic] ?? []).sorted()
        if message.data.count >= settings.idontwantMinBytes {
            for peer in members where peer != source && peer != message.from {
                out.append(.send(peer, GossipRPC(idontwant: [id])))
            }
        }
        let chokedBy = chokes[message.topic]?.chokedBy ?? []
        for peer in members where peer != source && peer != message.from && peers[peer]?.dontWant.contains(id) != true {
            if chokedBy.contains(peer) {
                out.to(peer) { $0.announce(id, topic: message.topic) }
            } else {
                out.to(peer) { $0.messages.append(message) }
            }
        }
    }

    private func conformsToPolicy(_ message: GossipMessage) -> Bool {
        switch settings.signaturePolicy {
        case .strictSign: message.from != nil && message.seqno != nil && message.signature != nil
        case .strictNoSign: message.from == nil && message.seqno == nil && message.signature == nil && message.key == nil
        }
    }
}
