public import Multiformats

/// A message identifier: the first 20 bytes of SHA-256 over the message's content (see `Specs/pubsub.md`).
public struct MessageID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 20
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public static func < (a: MessageID, b: MessageID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    public func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }

    public var description: String { bytes.prefix(6).map { String($0, radix: 16).leftPadded(2) }.joined() }
}

/// One published message, as it travels (libp2p pubsub's `Message`).
public struct GossipMessage: Hashable, Sendable {
    /// The author (strict sign) or nil (strict no-sign).
    public var from: PeerID?
    public var data: [UInt8]
    /// The author's sequence number, unique per author (strict sign), or nil.
    public var seqno: UInt64?
    public var topic: String
    /// Ed25519 signature by `from` over the message without `signature` and `key`.
    public var signature: [UInt8]?
    /// The author's public key, when it is not inlined in `from` (never for Ed25519 IDs).
    public var key: [UInt8]?

    public init(from: PeerID? = nil, data: [UInt8], seqno: UInt64? = nil, topic: String, signature: [UInt8]? = nil, key: [UInt8]? = nil) {
        self.from = from
        self.data = data
        self.seqno = seqno
        self.topic = topic
        self.signature = signature
        self.key = key
    }
}

/// One frame of the pubsub protocol (libp2p gossipsub's `RPC`, with the control message flattened).
public struct GossipRPC: Hashable, Sendable {
    /// Largest encoded frame accepted.
    public static let maxFrameBytes = (1 << 20) + 65536
    /// Most subscription changes, messages, or control entries of one kind in a frame.
    public static let maxEntries = 1024
    /// Most message IDs in all IHAVE, IWANT and IDONTWANT entries of a frame together.
    public static let maxMessageIDs = 10_000
    /// Most peers in one PRUNE's peer exchange.
    public static let maxExchangedPeers = 64
    /// Longest message ID accepted from the wire (ours are 20 bytes; libp2p's default ones are longer).
    public static let maxMessageIDBytes = 64
    /// Longest topic name accepted from the wire.
    public static let maxTopicBytes = 1024

    public struct Subscription: Hashable, Sendable {
        public var subscribe: Bool
        public var topic: String
        public init(subscribe: Bool, topic: String) {
            self.subscribe = subscribe
            self.topic = topic
        }
    }

    public struct IHave: Hashable, Sendable {
        public var topic: String
        public var ids: [MessageID]
        public init(topic: String, ids: [MessageID]) {
            self.topic = topic
            self.ids = ids
        }
    }

    public struct Prune: Hashable, Sendable {
        public var topic: String
        /// Peer exchange: other peers of the topic the pruned peer may connect to.
        public var peers: [PeerID]
        /// Seconds before the pruned peer may GRAFT again; nil means the receiver's default.
        public var backoffSeconds: UInt64?
        public init(topic: String, peers: [PeerID] = [], backoffSeconds: UInt64? = nil) {
            self.topic = topic
            self.peers = peers
            self.backoffSeconds = backoffSeconds
        }
    }

    public var subscriptions: [Subscription] = []
    public var messages: [GossipMessage] = []
    public var ihave: [IHave] = []
    public var iwant: [MessageID] = []
    public var graft: [String] = []
    public var prune: [Prune] = []
    public var idontwant: [MessageID] = []
    /// PinMesh extension (control fields 6 and 7): stop / resume pushing full messages of these
    /// topics to the sender; send immediate IHAVEs instead. Stock libp2p peers skip these fields.
    public var choke: [String] = []
    public var unchoke: [String] = []

    public init(
        subscriptions: [Subscription] = [], messages: [GossipMessage] = [], ihave: [IHave] = [], iwant: [MessageID] = [],
        graft: [String] = [], prune: [Prune] = [], idontwant: [MessageID] = [], choke: [String] = [], unchoke: [String] = []
    ) {
        self.subscriptions = subscriptions
        self.messages = messages
        self.ihave = ihave
        self.iwant = iwant
        self.graft = graft
        self.prune = prune
        self.idontwant = idontwant
        self.choke = choke
        self.unchoke = unchoke
    }

    public var isEmpty: Bool {
        subscriptions.isEmpty && messages.isEmpty && ihave.isEmpty && iwant.isEmpty && graft.isEmpty && prune.isEmpty
            && idontwant.isEmpty && choke.isEmpty && unchoke.isEmpty
    }

    /// Adds `id` to this frame's IHAVE entry for `topic`.
    mutating func announce(_ id: MessageID, topic: String) {
        if let i = ihave.firstIndex(where: { $0.topic == topic }) { ihave[i].ids.append(id) } else { ihave.append(IHave(topic: topic, ids: [id])) }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
