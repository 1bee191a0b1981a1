import Multiformats

extension GossipInstance {
    mutating func handleControl(_ rpc: GossipRPC, from peer: PeerID, now: Duration, _ out: inout Outbox) {
        handleChoke(rpc, from: peer)
        for topic in rpc.graft { handleGraft(topic, from: peer, now: now, &out) }
        for prune in rpc.prune { handlePrune(prune, from: peer, now: now, &out) }
        if !rpc.ihave.isEmpty { handleIHave(rpc.ihave, from: peer, now: now, &out) }
        if !rpc.iwant.isEmpty { handleIWant(rpc.iwant, from: peer, now: now, &out) }
    }

    private mutating func handleGraft(_ topic: String, from peer: PeerID, now: Duration, _ out: inout Outbox) {
        guard let members = mesh[topic] else {
            // Not our topic: refuse without peer exchange, so we do not leak peers of other topics.
            sendPrune(to: peer, topic, exchange: false, backoff: settings.pruneBackoff, now: now, &out)
            return
        }
        guard !members.contains(peer) else { return }
        if let until = backoff[topic]?[peer], until > now {
            // GRAFT during backoff: penalised, doubly so right after the PRUNE.
            var penalty = 1.0
            if until - settings.pruneBackoff + settings.graftFloodThreshold > now { penalty += 1 }
            score.addBehaviourPenalty(peer, penalty)
            sendPrune(to: peer, topic, exchange: false, backoff: settings.pruneBackoff, now: now, &out)
            return
        }
        if score.score(peer, now: now) < 0 {
            sendPrune(to: peer, topic, exchange: false, backoff: settings.pruneBackoff, now: now, &out)
            return
        }
        if members.count >= settings.dHigh, peers[peer]?.outbound != true {
            sendPrune(to: peer, topic, exchange: true, backoff: settings.pruneBackoff, now: now, &out)
            return
        }
        mesh[topic]!.insert(peer)
        score.grafted(peer, topic: topic, now: now)
    }

    private mutating func handlePrune(_ prune: GossipRPC.Prune, from peer: PeerID, now: Duration, _ out: inout Outbox) {
        leaveMesh(peer, prune.topic)
        let seconds = min(prune.backoffSeconds ?? UInt64(settings.pruneBackoff.components.seconds), 86_400)
        let until = now + .seconds(Int64(seconds))
        if until > backoff[prune.topic]?[peer] ?? .zero { backoff[prune.topic, default: [:]][peer] = until }
        guard !prune.peers.isEmpty, score.score(peer, now: now) >= score.settings.acceptPXThreshold else { return }
        let fresh = prune.peers.filter { $0 != me && peers[$0] == nil }.prefix(settings.prunePeers)
        if !fresh.isEmpty { out.append(.connect(Array(fresh), topic: prune.topic)) }
    }

    private mutating func handleIHave(_ entries: [GossipRPC.IHave], from peer: PeerID, now: Duration, _ out: inout Outbox) {
        guard score.score(peer, now: now) >= score.settings.gossipThreshold else { return }
        // Announcements from mesh peers we choke are the push path, not heartbeat gossip.
        var entries = entries
        entries.removeAll { entry in
            guard chokes[entry.topic]?.choking.contains(peer) == true else { return false }
            onAnnouncement(entry.ids, topic: entry.topic, from: peer, now: now)
            return true
        }
        guard !entries.isEmpty else { return }
        peers[peer]!.ihaves += 1
        guard peers[peer]!.ihaves <= settings.maxIHaveMessages, peers[peer]!.asked < settings.maxIHaveLength else { return }
        var wanted: [MessageID] = []
        var unique = Set<MessageID>()
        for entry in entries where subscriptions.contains(entry.topic) {
            for id in entry.ids where !seen.contains(id) && !requested.contains(id) && unique.insert(id).inserted {
                wanted.append(id)
            }
        }
        guard !wanted.isEmpty else { return }
        let room = settings.maxIHaveLength - peers[peer]!.asked
        if wanted.count > room {
            wanted.shuffle(using: &rng)
            wanted.removeLast(wanted.count - room)
        }
        peers[peer]!.asked += wanted.count
        // Ask each message of one peer at a time; ask again after a heartbeat if it never came.
        for id in wanted { requested.insert(id, expires: now + settings.heartbeatInterval) }
        // One promise per IWANT: the advertiser must deliver this message in time or be penalised.
        let promised = wanted[Int.random(in: 0..<wanted.count, using: &rng)]
        if promises[promised]?[peer] == nil { promises[promised, default: [:]][peer] = now + settings.iwantFollowupTime }
        counters.iwantSent += 1
        out.to(peer) { $0.iwant += wanted }
    }

    private mutating func handleIWant(_ ids: [MessageID], from peer: PeerID, now: Duration, _ out: inout Outbox) {
        guard score.score(peer, now: now) >= score.settings.gossipThreshold else { return }
        var messages: [GossipMessage] = []
        for id in ids.prefix(settings.maxIHaveLength) {
            if let m = mcache.getForIWant(id, peer: peer, limit: settings.gossipRetransmission) { messages.append(m) }
        }
        guard !messages.isEmpty else { return }
        counters.iwantServed += messages.count
        out.to(peer) { $0.messages += messages }
    }
}
