import Multiformats

/// Choking (PinMesh extension, see `Specs/pubsub.md` "Choking"): each peer lets only its
/// `dUnchoked` fastest mesh peers per topic push full messages; the others announce each new
/// message at once with an IHAVE, which we fetch only if no pushed copy arrives in time.
extension GossipInstance {
    struct ChokeState: Sendable {
        /// Mesh peers that choked us: they get immediate IHAVEs instead of messages.
        var chokedBy: Set<PeerID> = []
        /// Mesh peers we choked.
        var choking: Set<PeerID> = []
        /// Decayed count of messages each mesh peer was first to push or announce.
        var firsts: [PeerID: Double] = [:]
        /// Decayed count of messages seen on the topic.
        var observed = 0.0
    }

    struct LazyWant: Sendable {
        var topic: String
        var announcers: [PeerID]
        /// When to ask; an entry in a queue is current only while its due time matches this.
        var due: Duration
    }

    /// Two queues, each in due order by construction: first asks (after `lazyWantDelay`) and
    /// retries of the next announcer (after four times that).
    struct LazyQueues: Sendable {
        var queues: [[(id: MessageID, due: Duration)]] = [[], []]
        var heads = [0, 0]

        mutating func push(_ id: MessageID, due: Duration, retry: Bool) { queues[retry ? 1 : 0].append((id, due)) }

        /// The earliest current entry, dropping stale ones from the heads.
        mutating func peek(_ lazy: [MessageID: LazyWant]) -> (queue: Int, id: MessageID, due: Duration)? {
            var best: (queue: Int, id: MessageID, due: Duration)?
            for q in 0..<2 {
                while heads[q] < queues[q].count, lazy[queues[q][heads[q]].id]?.due != queues[q][heads[q]].due { heads[q] += 1 }
                if heads[q] > 1024, heads[q] * 2 > queues[q].count {
                    queues[q].removeFirst(heads[q])
                    heads[q] = 0
                }
                guard heads[q] < queues[q].count else { continue }
                let e = queues[q][heads[q]]
                if best.map({ e.due < $0.due }) ?? true { best = (q, e.id, e.due) }
            }
            return best
        }

        mutating func pop(_ queue: Int) { heads[queue] += 1 }
    }

    /// When the shell should call `tick(now:)` next, if anything is waiting.
    public var nextWakeup: Duration? {
        var copy = lazyQueues
        return copy.peek(lazy)?.due
    }

    /// Asks for announced messages whose pushed copy did not come in time.
    public mutating func tick(now: Duration) -> [GossipAction] {
        var out = Outbox()
        processLazyWants(now: now, &out)
        return out.actions()
    }

    mutating func processLazyWants(now: Duration, _ out: inout Outbox) {
        while let next = lazyQueues.peek(lazy), next.due <= now {
            lazyQueues.pop(next.queue)
            var want = lazy[next.id]!
            if seen.contains(next.id) {
                lazy[next.id] = nil
                continue
            }
            while let first = want.announcers.first, peers[first] == nil { want.announcers.removeFirst() }
            guard !want.announcers.isEmpty else {
                lazy[next.id] = nil
                continue
            }
            let peer = want.announcers.removeFirst()
            requested.insert(next.id, expires: now + settings.heartbeatInterval)
            if promises[next.id]?[peer] == nil { promises[next.id, default: [:]][peer] = now + settings.iwantFollowupTime }
            counters.iwantSent += 1
            out.to(peer) { $0.iwant.append(next.id) }
            if want.announcers.isEmpty {
                lazy[next.id] = nil
            } else {
                // Ask the next announcer if this one does not answer within a round trip or so.
                want.due = now + settings.lazyWantDelay * 4
                lazy[next.id] = want
                lazyQueues.push(next.id, due: want.due, retry: true)
            }
        }
    }

    /// An immediate IHAVE from a mesh peer we choke: note who was first, fetch later if still missing.
    mutating func onAnnouncement(_ ids: [MessageID], topic: String, from peer: PeerID, now: Duration) {
        for id in ids where !seen.contains(id) {
            if var want = lazy[id] {
                if want.announcers.count < 8, !want.announcers.contains(peer) {
                    want.announcers.append(peer)
                    lazy[id] = want
                }
                continue
            }
            guard lazy.count < settings.maxIHaveLength, !requested.contains(id) else { continue }
            noteFirst(peer, topic: topic)
            let due = now + settings.lazyWantDelay
            lazy[id] = LazyWant(topic: topic, announcers: [peer], due: due)
            lazyQueues.push(id, due: due, retry: false)
        }
    }

    /// A message (pushed) or an announcement reached us first from `peer`.
    mutating func noteFirst(_ peer: PeerID, topic: String) {
        guard settings.choke, mesh[topic]?.contains(peer) == true else { return }
        chokes[topic, default: ChokeState()].observed += 1
        chokes[topic]!.firsts[peer, default: 0] += 1
    }

    /// A peer left the mesh of `topic` (pruned, unsubscribed or gone): forget its choke state.
    mutating func forgetChoke(_ peer: PeerID, topic: String) {
        guard chokes[topic] != nil else { return }
        chokes[topic]!.chokedBy.remove(peer)
        chokes[topic]!.choking.remove(peer)
        chokes[topic]!.firsts[peer] = nil
    }

    mutating func handleChoke(_ rpc: GossipRPC, from peer: PeerID) {
        for topic in rpc.choke where mesh[topic]?.contains(peer) == true { chokes[topic, default: ChokeState()].chokedBy.insert(peer) }
        for topic in rpc.unchoke { chokes[topic]?.chokedBy.remove(peer) }
    }

    /// At each heartbeat: keep the `dUnchoked` mesh peers that were first most often unchoked, choke the rest.
    mutating func rechoke(_ topic: String, _ out: inout Outbox) {
        guard settings.choke, var state = chokes[topic], let members = mesh[topic] else { return }
        if state.observed >= settings.chokeMinMessages {
            let ranked = shuffled(members).enumerated()
                .sorted { (state.firsts[$0.element] ?? 0, -$0.offset) > (state.firsts[$1.element] ?? 0, -$1.offset) }
                .map(\.element)
            let wantChoked = Set(ranked.dropFirst(settings.dUnchoked))
            for peer in wantChoked.subtracting(state.choking).sorted() { out.to(peer) { $0.choke.append(topic) } }
            for peer in state.choking.subtracting(wantChoked).intersection(members).sorted() { out.to(peer) { $0.unchoke.append(topic) } }
            state.choking = wantChoked
        }
        state.observed *= 0.8
        for (peer, count) in state.firsts { state.firsts[peer] = count * 0.8 }
        chokes[topic] = state
    }
}
