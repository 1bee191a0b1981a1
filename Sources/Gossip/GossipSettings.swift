/// Every parameter of the gossip router, with documented defaults.
///
/// Defaults follow the gossipsub v1.1 specification except where noted; `Specs/pubsub.md`
/// explains each and why a PinMesh cluster (tens to a thousand trusted peers) differs.
public struct GossipSettings: Sendable, Equatable {
    /// Target mesh degree per topic (spec: 6).
    public var d = 6
    /// Below this many mesh peers the heartbeat grafts more (spec: 5).
    public var dLow = 5
    /// Above this many the heartbeat prunes down to `d` (spec: 12).
    public var dHigh = 12
    /// Mesh peers kept by score when pruning (spec: 4).
    public var dScore = 4
    /// Outbound mesh peers the heartbeat keeps at least (spec: 2; must be < dLow and ≤ d/2).
    public var dOut = 2
    /// Minimum number of peers gossiped to per heartbeat (spec: 6).
    public var dLazy = 6
    /// Fraction of eligible non-mesh peers gossiped to, when more than `dLazy` (spec: 0.25).
    public var gossipFactor = 0.25
    /// Heartbeat period (spec: 1 s). PinMesh: 700 ms, so repair of a lost message starts sooner.
    public var heartbeatInterval: Duration = .milliseconds(700)
    /// A fanout set is forgotten this long after the last publish to its topic (spec: 60 s).
    public var fanoutTTL: Duration = .seconds(60)
    /// Heartbeats a message stays in the cache for IWANT (spec: 5). PinMesh: 8 (5.6 s), the window
    /// that a restarted peer or a healed partition catches up on.
    public var historyLength = 8
    /// Of those, the most recent windows advertised in IHAVE (spec: 3).
    public var historyGossip = 3
    /// How long a message ID is remembered as seen (spec: 2 min).
    public var seenTTL: Duration = .seconds(120)
    /// Backoff after a PRUNE before the pruned peer may GRAFT again (spec: 60 s).
    public var pruneBackoff: Duration = .seconds(60)
    /// Backoff announced when leaving a topic (spec: 10 s).
    public var unsubscribeBackoff: Duration = .seconds(10)
    /// A GRAFT this soon into a backoff counts double in the behaviour penalty (spec: 10 s).
    public var graftFloodThreshold: Duration = .seconds(10)
    /// Peers offered in a PRUNE's peer exchange (spec: 16).
    public var prunePeers = 16
    /// Heartbeats between opportunistic grafts (spec: 60).
    public var opportunisticGraftTicks = 60
    /// Peers grafted opportunistically at a time (spec: 2).
    public var opportunisticGraftPeers = 2
    /// Most message IDs asked of one peer per heartbeat, and most IDs in one IHAVE (spec: 5000).
    public var maxIHaveLength = 5000
    /// Most IHAVE messages accepted from one peer per heartbeat (spec: 10).
    public var maxIHaveMessages = 10
    /// A peer that advertised a message must deliver it within this time (spec: 3 s).
    public var iwantFollowupTime: Duration = .seconds(3)
    /// Most times a message is sent to one peer in answer to IWANT (spec: 3).
    public var gossipRetransmission = 3
    /// Messages of at least this many bytes make us send IDONTWANT to our mesh (v1.2). PinMesh:
    /// 1 KiB; pinset heads and metrics are smaller, blocks of deltas are larger.
    public var idontwantMinBytes = 1024
    /// IDONTWANT entries kept per peer; the oldest are forgotten beyond it.
    public var maxIDontWantPerPeer = 10_000
    /// How long an IDONTWANT is honoured (v1.2: three heartbeats).
    public var idontwantTTL: Duration = .milliseconds(2100)
    /// PinMesh extension: ask mesh peers that rarely deliver a message first to announce (IHAVE)
    /// instead of pushing it (CHOKE/UNCHOKE), keeping `dUnchoked` pushers per topic. Cuts copies per
    /// delivery from about d−1 to about dUnchoked while the mesh keeps its full degree for repair.
    public var choke = true
    /// Mesh peers per topic kept pushing full messages to us: the ones that delivered first most often.
    public var dUnchoked = 3
    /// Choking decisions wait until this many messages (decayed per heartbeat) were seen on the topic.
    public var chokeMinMessages = 4.0
    /// How long an announcement from a choked peer waits for a pushed copy before we ask for it.
    public var lazyWantDelay: Duration = .milliseconds(50)
    /// Send our own messages to every subscribed peer above the publish threshold (spec: true).
    public var floodPublish = true
    /// Largest message payload accepted or published.
    public var maxMessageBytes = 1 << 20
    /// Largest topic name, in bytes.
    public var maxTopicBytes = 256
    /// Messages are signed by their author and verified (strict sign) or carry no author (strict no-sign).
    public var signaturePolicy: SignaturePolicy = .strictSign

    public enum SignaturePolicy: Sendable, Equatable {
        /// Every message carries `from`, `seqno` and an Ed25519 signature over them; unsigned ones are rejected.
        case strictSign
        /// No message carries `from`, `seqno` or a signature; any that does is rejected.
        case strictNoSign
    }

    public init() {}

    /// Checks the relations between the parameters; the error names the setting and the fix.
    public func validate() throws(GossipError) {
        func fail(_ what: String) throws(GossipError) { throw GossipError(.invalidSetting, what) }
        if !(dLow <= d && d <= dHigh) { try fail("mesh degrees must satisfy d_lo ≤ d ≤ d_hi, got \(dLow) ≤ \(d) ≤ \(dHigh)") }
        if dLow < 1 { try fail("d_lo must be at least 1, got \(dLow)") }
        if !(0 <= dScore && dScore <= dHigh) { try fail("d_score must be within 0...d_hi (\(dHigh)), got \(dScore)") }
        if !(0 <= dOut && dOut < dLow && dOut <= d / 2) { try fail("d_out must be below d_lo and at most d/2, got \(dOut)") }
        if dLazy < 0 || !(0...1).contains(gossipFactor) { try fail("d_lazy must be ≥ 0 and gossip_factor within 0...1") }
        if heartbeatInterval <= .zero { try fail("heartbeat_interval must be positive") }
        if historyGossip < 1 || historyGossip > historyLength {
            try fail("history_gossip must be within 1...history_length (\(historyLength)), got \(historyGossip)")
        }
        if seenTTL < heartbeatInterval * historyLength {
            try fail("seen_ttl must cover history_length heartbeats, or cached messages could be re-accepted")
        }
        if maxIHaveLength < 1 || maxIHaveMessages < 1 || gossipRetransmission < 1 {
            try fail("max_ihave_length, max_ihave_messages and gossip_retransmission must be at least 1")
        }
        if maxMessageBytes < 1 || maxMessageBytes > GossipRPC.maxFrameBytes - 4096 {
            try fail("max_message_bytes must be within 1...\(GossipRPC.maxFrameBytes - 4096), got \(maxMessageBytes)")
        }
        if maxTopicBytes < 1 || maxTopicBytes > 1024 { try fail("max_topic_bytes must be within 1...1024") }
        if choke, !(1...d).contains(dUnchoked) { try fail("d_unchoked must be within 1...d (\(d)), got \(dUnchoked)") }
        if lazyWantDelay < .zero || lazyWantDelay >= heartbeatInterval { try fail("lazy_want_delay must be within 0..<heartbeat_interval") }
    }
}
