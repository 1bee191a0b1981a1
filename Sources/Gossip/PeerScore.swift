import Multiformats

/// The score each peer earns (gossipsub v1.1 P1–P7), kept by the router.
struct PeerScore: Sendable {
    struct TopicStats: Sendable {
        var inMesh = false
        var graftTime: Duration = .zero
        var firstMessageDeliveries = 0.0
        var meshMessageDeliveries = 0.0
        var meshFailurePenalty = 0.0
        var invalidMessageDeliveries = 0.0
    }

    struct PeerStats: Sendable {
        var topics: [String: TopicStats] = [:]
        var behaviourPenalty = 0.0
        var applicationScore = 0.0
        var ip: String?
        /// Set when the peer disconnects: its stats are forgotten after this.
        var expiresAt: Duration?
    }

    enum Verdict: Sendable { case valid, invalid, ignored }

    private struct Delivery: Sendable {
        var verdict: Verdict
        var at: Duration
        var peers: Set<PeerID>
    }

    var settings: PeerScoreSettings
    private(set) var peers: [PeerID: PeerStats] = [:]
    private var peersByIP: [String: Set<PeerID>] = [:]
    private var deliveries: [MessageID: Delivery] = [:]
    private var deliveryExpiry = ExpiringSet<MessageID>()
    private let deliveryTTL: Duration

    init(settings: PeerScoreSettings, deliveryTTL: Duration) {
        self.settings = settings
        self.deliveryTTL = deliveryTTL
    }

    func score(_ peer: PeerID, now: Duration) -> Double {
        guard let stats = peers[peer] else { return 0 }
        var topicScore = 0.0
        for (topic, t) in stats.topics {
            let p = settings.parameters(for: topic)
            var s = 0.0
            if t.inMesh {
                let quanta = (now - t.graftTime) / p.timeInMeshQuantum
                s += min(quanta, p.timeInMeshCap) * p.timeInMeshWeight
                if p.meshMessageDeliveriesWeight != 0, now - t.graftTime > p.meshMessageDeliveriesActivation,
                    t.meshMessageDeliveries < p.meshMessageDeliveriesThreshold
                {
                    let deficit = p.meshMessageDeliveriesThreshold - t.meshMessageDeliveries
                    s += deficit * deficit * p.meshMessageDeliveriesWeight
                }
            }
            s += t.firstMessageDeliveries * p.firstMessageDeliveriesWeight
            s += t.meshFailurePenalty * p.meshFailurePenaltyWeight
            s += t.invalidMessageDeliveries * t.invalidMessageDeliveries * p.invalidMessageDeliveriesWeight
            topicScore += s * p.topicWeight
        }
        if settings.topicScoreCap > 0 { topicScore = min(topicScore, settings.topicScoreCap) }
        var score = topicScore + stats.applicationScore * settings.appSpecificWeight
        if let ip = stats.ip, let sharing = peersByIP[ip]?.count, sharing > settings.ipColocationFactorThreshold {
            let surplus = Double(sharing - settings.ipColocationFactorThreshold)
            score += surplus * surplus * settings.ipColocationFactorWeight
        }
        if stats.behaviourPenalty > settings.behaviourPenaltyThreshold {
            let excess = stats.behaviourPenalty - settings.behaviourPenaltyThreshold
            score += excess * excess * settings.behaviourPenaltyWeight
        }
        return score
    }

    // MARK: membership

    mutating func connected(_ peer: PeerID, ip: String?) {
        var stats = peers[peer] ?? PeerStats()
        stats.expiresAt = nil
        if let old = stats.ip { peersByIP[old]?.remove(peer) }
        stats.ip = ip
        if let ip { peersByIP[ip, default: []].insert(peer) }
        peers[peer] = stats
    }

    /// Keeps the stats (and penalties) for `retainScore`, leaving every mesh.
    mutating func disconnected(_ peer: PeerID, now: Duration) {
        guard var stats = peers[peer] else { return }
        for topic in Array(stats.topics.keys) { leaveMesh(&stats, topic: topic) }
        if let ip = stats.ip { peersByIP[ip]?.remove(peer) }
        stats.expiresAt = now + settings.retainScore
        peers[peer] = stats
    }

    mutating func grafted(_ peer: PeerID, topic: String, now: Duration) {
        peers[peer, default: PeerStats()].topics[topic, default: TopicStats()].inMesh = true
        peers[peer]!.topics[topic]!.graftTime = now
        peers[peer]!.topics[topic]!.meshMessageDeliveries = 0
    }

    mutating func pruned(_ peer: PeerID, topic: String) {
        guard var stats = peers[peer] else { return }
        leaveMesh(&stats, topic: topic)
        peers[peer] = stats
    }

    private func leaveMesh(_ stats: inout PeerStats, topic: String) {
        guard var t = stats.topics[topic], t.inMesh else { return }
        let p = settings.parameters(for: topic)
        // P3b: a peer that leaves the mesh owing deliveries keeps the deficit as a penalty.
        if p.meshFailurePenaltyWeight != 0, t.meshMessageDeliveries < p.meshMessageDeliveriesThreshold {
            let deficit = p.meshMessageDeliveriesThreshold - t.meshMessageDeliveries
            t.meshFailurePenalty += deficit * deficit
        }
        t.inMesh = false
        stats.topics[topic] = t
    }

    mutating func setApplicationScore(_ peer: PeerID, _ value: Double) {
        peers[peer, default: PeerStats()].applicationScore = value
    }

    mutating func addBehaviourPenalty(_ peer: PeerID, _ count: Double) {
        guard peers[peer] != nil else { return }
        peers[peer]!.behaviourPenalty += count
    }

    // MARK: deliveries

    /// The first delivery of a message from `peer` was judged.
    mutating func firstDelivery(_ id: MessageID, from peer: PeerID, topic: String, verdict: Verdict, now: Duration) {
        deliveries[id] = Delivery(verdict: verdict, at: now, peers: [peer])
        deliveryExpiry.insert(id, expires: now + deliveryTTL)
        let p = settings.parameters(for: topic)
        switch verdict {
        case .valid:
            update(peer, topic) { t in
                t.firstMessageDeliveries = min(t.firstMessageDeliveries + 1, p.firstMessageDeliveriesCap)
                if t.inMesh { t.meshMessageDeliveries = min(t.meshMessageDeliveries + 1, p.meshMessageDeliveriesCap) }
            }
        case .invalid: update(peer, topic) { $0.invalidMessageDeliveries += 1 }
        case .ignored: break
        }
    }

    /// A message rejected before it could be identified as seen (bad signature, wrong policy).
    mutating func rejectedUnseen(from peer: PeerID, topic: String) {
        update(peer, topic) { $0.invalidMessageDeliveries += 1 }
    }

    /// A later copy of a message already judged.
    mutating func duplicate(_ id: MessageID, from peer: PeerID, topic: String, now: Duration) {
        guard var d = deliveries[id], d.peers.insert(peer).inserted else { return }
        deliveries[id] = d
        let p = settings.parameters(for: topic)
        switch d.verdict {
        case .valid:
            guard now - d.at <= p.meshMessageDeliveriesWindow else { return }
            update(peer, topic) { t in
                if t.inMesh { t.meshMessageDeliveries = min(t.meshMessageDeliveries + 1, p.meshMessageDeliveriesCap) }
            }
        case .invalid: update(peer, topic) { $0.invalidMessageDeliveries += 1 }
        case .ignored: break
        }
    }

    private mutating func update(_ peer: PeerID, _ topic: String, _ body: (inout TopicStats) -> Void) {
        guard peers[peer] != nil else { return }
        body(&peers[peer]![topic: topic])
    }

    // MARK: upkeep

    /// Decays every counter once and forgets expired peers and deliveries.
    mutating func decay(now: Duration) {
        let zero = settings.decayToZero
        func decayed(_ v: Double, _ f: Double) -> Double {
            let x = v * f
            return x < zero ? 0 : x
        }
        for peer in Array(peers.keys) {
            var stats = peers[peer]!
            if let expiry = stats.expiresAt, expiry <= now {
                peers[peer] = nil
                continue
            }
            for (topic, var t) in stats.topics {
                let p = settings.parameters(for: topic)
                t.firstMessageDeliveries = decayed(t.firstMessageDeliveries, p.firstMessageDeliveriesDecay)
                t.meshMessageDeliveries = decayed(t.meshMessageDeliveries, p.meshMessageDeliveriesDecay)
                t.meshFailurePenalty = decayed(t.meshFailurePenalty, p.meshFailurePenaltyDecay)
                t.invalidMessageDeliveries = decayed(t.invalidMessageDeliveries, p.invalidMessageDeliveriesDecay)
                stats.topics[topic] = t
            }
            stats.behaviourPenalty = decayed(stats.behaviourPenalty, settings.behaviourPenaltyDecay)
            peers[peer] = stats
        }
        for id in deliveryExpiry.purge(now: now) { deliveries[id] = nil }
    }
}

extension PeerScore.PeerStats {
    subscript(topic topic: String) -> PeerScore.TopicStats {
        get { topics[topic] ?? PeerScore.TopicStats() }
        set { topics[topic] = newValue }
    }
}
