/// Peer scoring (gossipsub v1.1 P1–P7) and the thresholds that act on the score.
///
/// Defaults are chosen for a PinMesh cluster: honest peers stay near zero or positive, one
/// invalid message costs more than an hour of good mesh behaviour earns, and a peer that keeps
/// sending invalid messages drops below the graylist threshold after a handful of them.
public struct PeerScoreSettings: Sendable, Equatable {
    /// Parameters of one topic's part of the score.
    public struct Topic: Sendable, Equatable {
        public var topicWeight = 1.0
        /// P1: time in mesh, counted in quanta, capped.
        public var timeInMeshWeight = 0.01
        public var timeInMeshQuantum: Duration = .seconds(1)
        public var timeInMeshCap = 3600.0
        /// P2: first deliveries of a message, decayed, capped.
        public var firstMessageDeliveriesWeight = 1.0
        public var firstMessageDeliveriesDecay = 0.5
        public var firstMessageDeliveriesCap = 100.0
        /// P3: mesh deliveries below the threshold are penalised (squared deficit); 0 weight disables.
        /// Off by default: PinMesh topics are quiet for long stretches, when honest mesh peers have
        /// nothing to deliver.
        public var meshMessageDeliveriesWeight = 0.0
        public var meshMessageDeliveriesDecay = 0.5
        public var meshMessageDeliveriesThreshold = 1.0
        public var meshMessageDeliveriesCap = 10.0
        public var meshMessageDeliveriesWindow: Duration = .milliseconds(10)
        public var meshMessageDeliveriesActivation: Duration = .seconds(5)
        /// P3b: the deficit a peer had when it left the mesh, decayed.
        public var meshFailurePenaltyWeight = 0.0
        public var meshFailurePenaltyDecay = 0.5
        /// P4: invalid messages (squared), decayed slowly.
        public var invalidMessageDeliveriesWeight = -10.0
        public var invalidMessageDeliveriesDecay = 0.99

        public init() {}
    }

    /// Thresholds: below `gossip` no IHAVE/IWANT is exchanged, below `publish` no own messages
    /// are sent, below `graylist` everything from the peer is ignored; PX is accepted only from
    /// peers at or above `acceptPX`; opportunistic grafting starts when the mesh median falls below
    /// `opportunisticGraft`.
    public var gossipThreshold = -10.0
    public var publishThreshold = -50.0
    public var graylistThreshold = -80.0
    public var acceptPXThreshold = 10.0
    public var opportunisticGraftThreshold = 5.0
    /// Cap on the sum of positive topic scores (0: no cap).
    public var topicScoreCap = 100.0
    /// P5: weight of the application's score (set with `setApplicationScore`).
    public var appSpecificWeight = 1.0
    /// P6: peers beyond this many on one IP address are penalised (squared surplus). The shell
    /// passes no IP for loopback and private addresses, so local clusters are not penalised.
    public var ipColocationFactorWeight = -5.0
    public var ipColocationFactorThreshold = 10
    /// P7: broken promises and GRAFTs during backoff, above the threshold (squared surplus).
    public var behaviourPenaltyWeight = -10.0
    /// 1: one broken promise is forgiven (an IWANT or its answer can be lost); two are not.
    public var behaviourPenaltyThreshold = 1.0
    public var behaviourPenaltyDecay = 0.9
    /// Counters below this after decay become 0.
    public var decayToZero = 0.01
    /// The score of a disconnected peer is kept this long, so leaving does not clear penalties.
    public var retainScore: Duration = .seconds(3600)
    /// Parameters for topics not listed in `topics`.
    public var defaultTopic = Topic()
    public var topics: [String: Topic] = [:]

    public init() {}

    public func parameters(for topic: String) -> Topic { topics[topic] ?? defaultTopic }

    /// Checks signs and orders; the error names the setting and the fix.
    public func validate() throws(GossipError) {
        func fail(_ what: String) throws(GossipError) { throw GossipError(.invalidSetting, what) }
        if !(graylistThreshold <= publishThreshold && publishThreshold <= gossipThreshold && gossipThreshold <= 0) {
            try fail("score thresholds must satisfy graylist ≤ publish ≤ gossip ≤ 0")
        }
        if acceptPXThreshold < 0 || opportunisticGraftThreshold < 0 {
            try fail("accept_px and opportunistic_graft thresholds must be ≥ 0")
        }
        if ipColocationFactorWeight > 0 || behaviourPenaltyWeight > 0 {
            try fail("ip_colocation_factor_weight and behaviour_penalty_weight must be ≤ 0 (they are penalties)")
        }
        for (name, t) in [("default", defaultTopic)] + topics.sorted(by: { $0.key < $1.key }).map({ ($0.key, $0.value) }) {
            let decays = [t.firstMessageDeliveriesDecay, t.meshMessageDeliveriesDecay, t.meshFailurePenaltyDecay, t.invalidMessageDeliveriesDecay]
            if decays.contains(where: { !(0 < $0 && $0 < 1) }) { try fail("topic \(name): every decay must be within (0, 1)") }
            if t.invalidMessageDeliveriesWeight > 0 || t.meshMessageDeliveriesWeight > 0 || t.meshFailurePenaltyWeight > 0 {
                try fail("topic \(name): P3, P3b and P4 weights must be ≤ 0 (they are penalties)")
            }
            if t.timeInMeshQuantum <= .zero { try fail("topic \(name): time_in_mesh_quantum must be positive") }
        }
    }
}
