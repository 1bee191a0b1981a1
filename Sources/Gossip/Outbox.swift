public import Multiformats

/// What the router wants done after an event.
public enum GossipAction: Sendable, Equatable {
    /// Send this frame to this peer (the shell picks datagram or stream by size).
    case send(PeerID, GossipRPC)
    /// A new valid message for a topic we subscribe to; `via` is the peer it came from.
    case deliver(GossipMessage, MessageID, via: PeerID)
    /// Peer exchange: peers of `topic` worth connecting to.
    case connect([PeerID], topic: String)
}

/// Collects the frames of one event per peer, so each peer gets at most one frame per event.
struct Outbox {
    private var frames: [PeerID: GossipRPC] = [:]
    private var ordered: [GossipAction] = []

    mutating func to(_ peer: PeerID, _ body: (inout GossipRPC) -> Void) {
        body(&frames[peer, default: GossipRPC()])
    }

    mutating func append(_ action: GossipAction) { ordered.append(action) }

    /// Deliveries and exchanges in the order they happened, then frames by peer ID.
    func actions() -> [GossipAction] {
        ordered + frames.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }.map { .send($0.key, $0.value) }
    }
}

/// Counters for metrics and simulations; they only grow.
public struct GossipCounters: Sendable, Equatable {
    public var published = 0
    public var delivered = 0
    public var duplicates = 0
    public var rejected = 0
    public var ignored = 0
    public var graylistedFrames = 0
    public var ihaveSent = 0
    public var iwantSent = 0
    public var iwantServed = 0
    public var brokenPromises = 0
    public var grafts = 0
    public var prunes = 0

    public init() {}
}
