import Multiformats

extension GossipInstance {
    /// The periodic upkeep: scores, promises, mesh and fanout bounds, gossip, caches.
    public mutating func heartbeat(now: Duration) -> [GossipAction] {
        heartbeats += 1
        var out = Outbox()
        score.decay(now: now)
        for peer in peers.keys {
            peers[peer]!.ihaves = 0
            peers[peer]!.asked = 0
            peers[peer]!.dontWant.purge(now: now)
        }
        checkPromises(now: now)
        processLazyWants(now: now, &out)
        for topic in mesh.keys.sorted() {
            maintainMesh(topic, now: now, &out)
            rechoke(topic, &out)
        }
        maintainFanout(now: now, &out)
        for topic in backoff.keys {
            backoff[topic] = backoff[topic]!.filter { $0.value > now }
            if backoff[topic]!.isEmpty { backoff[topic] = nil }
        }
        mcache.shift()
        seen.purge(now: now)
        requested.purge(now: now)
        return out.actions()
    }

    /// Every advertiser that did not deliver a promised message in time gets a behaviour penalty.
    private mutating func checkPromises(now: Duration) {
        for id in promises.keys.sorted() {
            var pending = promises[id]!
            for (peer, deadline) in pending where deadline <= now {
                score.addBehaviourPenalty(peer, 1)
                counters.brokenPromises += 1
                pending[peer] = nil
            }
            promises[id] = pending.isEmpty ? nil : pending
        }
    }

    private mutating func maintainMesh(_ topic: String, now: Duration, _ out: inout Outbox) {
        var members = mesh[topic]!
        // Negative scores leave the mesh, without peer exchange.
        for peer in members.sorted() where score.score(peer, now: now) < 0 {
            members.remove(peer)
            leaveMesh(peer, topic)
            sendPrune(to: peer, topic, exchange: false, backoff: settings.pruneBackoff, now: now, &out)
        }
        let candidates = { (me: inout GossipInstance, members: Set<PeerID>) -> [PeerID] in
            me.shuffled((me.topicPeers[topic] ?? []).filter {
                !members.contains($0) && !me.inBackoff($0, topic, now) && me.score.score($0, now: now) >= 0
            })
        }
        if members.count < settings.dLow {
            for peer in candidates(&self, members).prefix(settings.d - members.count) {
                graft(peer, topic, now: now, &out)
                members.insert(peer)
            }
        }
        if members.count > settings.dHigh {
            let keep = selectSurvivors(members, now: now)
            for peer in members.subtracting(keep).sorted() {
                leaveMesh(peer, topic)
                sendPrune(to: peer, topic, exchange: true, backoff: settings.pruneBackoff, now: now, &out)
            }
            members = keep
        }
        if members.count >= settings.dLow {
            let outbound = members.filter { peers[$0]?.outbound == true }.count
            if outbound < settings.dOut {
                let extra = candidates(&self, members).filter { peers[$0]?.outbound == true }.prefix(settings.dOut - outbound)
                for peer in extra {
                    graft(peer, topic, now: now, &out)
                    members.insert(peer)
                }
            }
        }
        if heartbeats % settings.opportunisticGraftTicks == 0, members.count > 1 {
            let scores = members.map { score.score($0, now: now) }.sorted()
            let median = scores[scores.count / 2]
            if median < score.settings.opportunisticGraftThreshold {
                let better = candidates(&self, members).filter { score.score($0, now: now) > median }
                for peer in better.prefix(settings.opportunisticGraftPeers) {
                    graft(peer, topic, now: now, &out)
                    members.insert(peer)
                }
            }
        }
        emitGossip(topic, excluding: members, now: now, &out)
    }

    /// When the mesh is over `dHigh`: the `dScore` best by score, random others up to `d`, and at
    /// least `dOut` outbound peers.
    private mutating func selectSurvivors(_ members: Set<PeerID>, now: Duration) -> Set<PeerID> {
        let byScore = shuffled(members).map { ($0, score.score($0, now: now)) }.sorted { $0.1 > $1.1 }.map(\.0)
        var keep = Array(byScore.prefix(settings.dScore))
        var rest = Array(byScore.dropFirst(settings.dScore))
        rest.shuffle(using: &rng)
        keep += rest.prefix(settings.d - keep.count)
        rest = Array(rest.dropFirst(settings.d - settings.dScore))
        var outbound = keep.filter { peers[$0]?.outbound == true }.count
        for peer in rest where outbound < settings.dOut && peers[peer]?.outbound == true {
            // Swap out the last inbound peer that is not among the score-kept ones.
            if let i = keep.lastIndex(where: { peers[$0]?.outbound != true }), i >= settings.dScore {
                keep[i] = peer
                outbound += 1
            }
        }
        return Set(keep)
    }

    private mutating func maintainFanout(now: Duration, _ out: inout Outbox) {
        for topic in fanout.keys.sorted() {
            if let last = fanoutPublished[topic], last + settings.fanoutTTL < now {
                fanout[topic] = nil
                fanoutPublished[topic] = nil
                continue
            }
            var members = fanout[topic]!.filter {
                topicPeers[topic]?.contains($0) == true && score.score($0, now: now) >= score.settings.publishThreshold
            }
            if members.count < settings.d {
                let more = shuffled((topicPeers[topic] ?? []).filter {
                    !members.contains($0) && score.score($0, now: now) >= score.settings.publishThreshold
                })
                members.formUnion(more.prefix(settings.d - members.count))
            }
            fanout[topic] = members
            emitGossip(topic, excluding: members, now: now, &out)
        }
    }

    /// IHAVE of the recent messages of `topic` to `max(dLazy, gossipFactor × eligible)` non-mesh peers.
    private mutating func emitGossip(_ topic: String, excluding members: Set<PeerID>, now: Duration, _ out: inout Outbox) {
        let ids = mcache.gossipIDs(topic: topic)
        guard !ids.isEmpty else { return }
        let eligible = shuffled((topicPeers[topic] ?? []).filter {
            !members.contains($0) && score.score($0, now: now) >= score.settings.gossipThreshold
        })
        let target = max(settings.dLazy, Int(settings.gossipFactor * Double(eligible.count)))
        for peer in eligible.prefix(target) {
            var list = ids
            if list.count > settings.maxIHaveLength {
                list.shuffle(using: &rng)
                list.removeLast(list.count - settings.maxIHaveLength)
            }
            counters.ihaveSent += 1
            out.to(peer) { $0.ihave.append(.init(topic: topic, ids: list)) }
        }
    }
}
