import ClusterModel
public import Multiformats
public import Sodium

/// The gossipsub v1.1 router (with v1.2's IDONTWANT) as a pure state machine.
///
/// Events come in with the current time (`now`, a monotonic `Duration`); each returns the
/// `GossipAction`s to carry out. It never reads a clock, touches a socket, or draws randomness
/// other than from its seeded generator, so a simulation replays exactly. The shell calls
/// `heartbeat(now:)` every `settings.heartbeatInterval`. See `Specs/pubsub.md`.
public struct GossipInstance: Sendable {
    /// A topic validator's verdict: deliver and forward, penalise the sender, or drop quietly.
    public enum Validation: Sendable { case accept, reject, ignore }
    public typealias Validator = @Sendable (GossipMessage) -> Validation

    struct PeerState: Sendable {
        var outbound: Bool
        var topics: Set<String> = []
        var dontWant = ExpiringSet<MessageID>()
        /// IHAVE frames received and message IDs asked for since the last heartbeat.
        var ihaves = 0
        var asked = 0
    }

    public let me: PeerID
    public let settings: GossipSettings
    let identity: Ed25519.PrivateKey?
    var rng: SplitMix64
    var seqno: UInt64

    var subscriptions: Set<String> = []
    var peers: [PeerID: PeerState] = [:]
    var topicPeers: [String: Set<PeerID>] = [:]
    var mesh: [String: Set<PeerID>] = [:]
    var fanout: [String: Set<PeerID>] = [:]
    var fanoutPublished: [String: Duration] = [:]
    var backoff: [String: [PeerID: Duration]] = [:]
    var mcache: MessageCache
    var seen = ExpiringSet<MessageID>()
    /// Message IDs asked for recently, so several IHAVEs of one message cause one IWANT.
    var requested = ExpiringSet<MessageID>()
    var promises: [MessageID: [PeerID: Duration]] = [:]
    var score: PeerScore
    var validators: [String: Validator] = [:]
    var heartbeats = 0
    var chokes: [String: ChokeState] = [:]
    var lazy: [MessageID: LazyWant] = [:]
    var lazyQueues = LazyQueues()
    public internal(set) var counters = GossipCounters()

    /// - Parameters:
    ///   - identity: signs our messages; required for `.strictSign`, ignored for `.strictNoSign`.
    ///   - seed: seeds the router's random choices (mesh selection, gossip targets) and its first sequence number.
    public init(
        identity: Ed25519.PrivateKey, settings: GossipSettings = GossipSettings(),
        scoreSettings: PeerScoreSettings = PeerScoreSettings(), seed: UInt64
    ) throws(GossipError) {
        try settings.validate()
        try scoreSettings.validate()
        do { me = try PeerID(ed25519PublicKey: identity.publicKey.bytes) } catch {
            throw GossipError(.invalidSetting, "identity: \(error.message)")
        }
        self.identity = settings.signaturePolicy == .strictSign ? identity : nil
        self.settings = settings
        rng = SplitMix64(seed: seed)
        seqno = rng.next() >> 1
        mcache = MessageCache(history: settings.historyLength, gossip: settings.historyGossip)
        score = PeerScore(settings: scoreSettings, deliveryTTL: settings.seenTTL)
    }

    // MARK: queries

    public var topics: [String] { subscriptions.sorted() }
    public func meshPeers(_ topic: String) -> [PeerID] { (mesh[topic] ?? []).sorted() }
    public func peers(subscribedTo topic: String) -> [PeerID] { (topicPeers[topic] ?? []).sorted() }
    public var connectedPeers: [PeerID] { peers.keys.sorted() }
    public func score(of peer: PeerID, now: Duration) -> Double { score.score(peer, now: now) }

    // MARK: configuration

    /// Installs (or with nil removes) the validator of `topic`; without one, every well-formed message is accepted.
    public mutating func setValidator(_ topic: String, _ validator: Validator?) { validators[topic] = validator }

    /// P5: the application's opinion of a peer (e.g. trusted cluster peers get a bonus).
    public mutating func setApplicationScore(_ peer: PeerID, _ value: Double) { score.setApplicationScore(peer, value) }

    // MARK: membership

    /// A connection to `peer` is up; `outbound` when we dialled it; `ip` for the colocation penalty.
    public mutating func addPeer(_ peer: PeerID, outbound: Bool, ip: String? = nil, now: Duration) -> [GossipAction] {
        guard peer != me, peers[peer] == nil else { return [] }
        peers[peer] = PeerState(outbound: outbound)
        score.connected(peer, ip: ip)
        guard !subscriptions.isEmpty else { return [] }
        var out = Outbox()
        out.to(peer) { $0.subscriptions = subscriptions.sorted().map { .init(subscribe: true, topic: $0) } }
        return out.actions()
    }

    /// The connection to `peer` is gone.
    public mutating func removePeer(_ peer: PeerID, now: Duration) {
        guard let state = peers.removeValue(forKey: peer) else { return }
        for topic in state.topics {
            topicPeers[topic]?.remove(peer)
            leaveMesh(peer, topic)
            fanout[topic]?.remove(peer)
        }
        score.disconnected(peer, now: now)
    }

    // MARK: topics

    /// Joins `topic`: announces it and builds its mesh (from the fanout first).
    public mutating func subscribe(_ topic: String, now: Duration) -> [GossipAction] {
        guard subscriptions.insert(topic).inserted else { return [] }
        var out = Outbox()
        for peer in peers.keys { out.to(peer) { $0.subscriptions.append(.init(subscribe: true, topic: topic)) } }
        var members = Set((fanout.removeValue(forKey: topic) ?? []).filter { score.score($0, now: now) >= 0 })
        fanoutPublished[topic] = nil
        if members.count < settings.d {
            let more = shuffled((topicPeers[topic] ?? []).filter {
                !members.contains($0) && !inBackoff($0, topic, now) && score.score($0, now: now) >= 0
            })
            members.formUnion(more.prefix(settings.d - members.count))
        }
        mesh[topic] = []
        for peer in members.sorted() { graft(peer, topic, now: now, &out) }
        return out.actions()
    }

    /// Leaves `topic`: announces it and prunes the mesh with the unsubscribe backoff.
    public mutating func unsubscribe(_ topic: String, now: Duration) -> [GossipAction] {
        guard subscriptions.remove(topic) != nil else { return [] }
        var out = Outbox()
        for peer in peers.keys { out.to(peer) { $0.subscriptions.append(.init(subscribe: false, topic: topic)) } }
        chokes[topic] = nil
        for peer in (mesh.removeValue(forKey: topic) ?? []).sorted() {
            score.pruned(peer, topic: topic)
            sendPrune(to: peer, topic, exchange: true, backoff: settings.unsubscribeBackoff, now: now, &out)
        }
        return out.actions()
    }

    // MARK: publishing

    /// Publishes `data` on `topic` as us; returns the message ID and the frames to send.
    public mutating func publish(_ topic: String, _ data: [UInt8], now: Duration) throws(GossipError) -> (MessageID, [GossipAction]) {
        guard data.count <= settings.maxMessageBytes else {
            throw GossipError(.tooLarge, "message of \(data.count) bytes exceeds max_message_bytes (\(settings.maxMessageBytes)); send large data by RPC and publish its CID")
        }
        guard !topic.isEmpty, topic.utf8.count <= settings.maxTopicBytes else {
            throw GossipError(.invalidSetting, "topic must be 1...\(settings.maxTopicBytes) bytes")
        }
        var message = GossipMessage(data: data, topic: topic)
        if let identity {
            seqno &+= 1
            message.from = me
            message.seqno = seqno
            message.sign(with: identity)
        }
        let id = message.id
        seen.insert(id, expires: now + settings.seenTTL)
        mcache.put(id, message)
        counters.published += 1

        var targets: Set<PeerID>
        if settings.floodPublish {
            targets = (topicPeers[topic] ?? []).filter { score.score($0, now: now) >= score.settings.publishThreshold }
        } else if let members = mesh[topic] {
            targets = members
        } else {
            if fanout[topic] == nil {
                fanout[topic] = Set(shuffled((topicPeers[topic] ?? []).filter {
                    score.score($0, now: now) >= score.settings.publishThreshold
                }).prefix(settings.d))
            }
            targets = fanout[topic] ?? []
        }
        if mesh[topic] == nil { fanoutPublished[topic] = now }
        var out = Outbox()
        for peer in targets { out.to(peer) { $0.messages.append(message) } }
        return (id, out.actions())
    }

    // MARK: helpers

    /// Peers in a reproducible random order: sorted first, then shuffled by the seeded generator.
    mutating func shuffled(_ peers: some Sequence<PeerID>) -> [PeerID] {
        var list = peers.sorted()
        list.shuffle(using: &rng)
        return list
    }

    func inBackoff(_ peer: PeerID, _ topic: String, _ now: Duration) -> Bool {
        guard let until = backoff[topic]?[peer] else { return false }
        return until > now
    }

    /// Removes `peer` from the mesh of `topic` with its score and choke bookkeeping.
    mutating func leaveMesh(_ peer: PeerID, _ topic: String) {
        guard mesh[topic]?.remove(peer) != nil else { return }
        score.pruned(peer, topic: topic)
        forgetChoke(peer, topic: topic)
    }

    mutating func graft(_ peer: PeerID, _ topic: String, now: Duration, _ out: inout Outbox) {
        guard mesh[topic]?.insert(peer).inserted == true else { return }
        score.grafted(peer, topic: topic, now: now)
        counters.grafts += 1
        out.to(peer) { $0.graft.append(topic) }
    }

    /// Sends PRUNE (with peer exchange when asked) and starts our side's backoff.
    mutating func sendPrune(to peer: PeerID, _ topic: String, exchange: Bool, backoff duration: Duration, now: Duration, _ out: inout Outbox) {
        var exchanged: [PeerID] = []
        if exchange {
            exchanged = Array(shuffled((topicPeers[topic] ?? []).filter { $0 != peer && score.score($0, now: now) >= 0 }).prefix(settings.prunePeers))
        }
        backoff[topic, default: [:]][peer] = now + duration
        counters.prunes += 1
        let seconds = UInt64(duration.components.seconds)
        out.to(peer) { $0.prune.append(.init(topic: topic, peers: exchanged, backoffSeconds: seconds)) }
    }
}
