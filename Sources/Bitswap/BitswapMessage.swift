public import Multiformats

/// One bitswap message as it is on the wire (`Message` of bitswap 1.0.0–1.2.0).
///
/// The value keeps what the encoding says, field by field, so a decoded message re-encodes to
/// the same bytes when its input was canonical (fields in number order, defaults omitted).
/// Limits (checked when decoding): the message at most ``maxMessageBytes``, a block at most
/// ``maxBlockBytes``, a CID at most ``maxCIDBytes``, at most ``maxEntries`` wantlist entries,
/// ``maxEntries`` blocks (raw and payload together) and ``maxEntries`` block presences.
public struct BitswapMessage: Sendable, Equatable {
    /// The bitswap spec's limit on one message: 4 MiB.
    public static let maxMessageBytes = 4 << 20
    /// The largest block sent or accepted: 2 MiB, what every implementation must support.
    public static let maxBlockBytes = 2 << 20
    /// The longest binary CID accepted: four 10-byte varints and a 128-byte digest (boxo's bound).
    public static let maxCIDBytes = 168
    /// The most entries of one kind in one message. A 4 MiB message could carry about 100,000
    /// wantlist entries of 38 bytes; kubo's client cuts its messages at 2 MiB and keeps its
    /// wantlist to its sessions' windows and broadcast wants (hundreds to a few thousand), and a
    /// server keeps at most 1,024 wants a peer. 16,384 bounds a decoded message's memory to a few
    /// megabytes while leaving kubo's largest wantlists whole.
    public static let maxEntries = 16_384

    public var wantlist: BitswapWantlist?
    /// Bitswap 1.0.0 blocks: raw bytes whose CID is CIDv0 (sha2-256, dag-pb) of them.
    public var blocks: [[UInt8]]
    /// Bitswap 1.1.0+ blocks: CID prefix and data.
    public var payload: [BitswapPayloadBlock]
    public var blockPresences: [BitswapBlockPresence]
    /// Bytes the sender still has queued for the receiver (1.2.0; 0 when absent).
    public var pendingBytes: Int32

    public init(
        wantlist: BitswapWantlist? = nil, blocks: [[UInt8]] = [], payload: [BitswapPayloadBlock] = [],
        blockPresences: [BitswapBlockPresence] = [], pendingBytes: Int32 = 0
    ) {
        self.wantlist = wantlist
        self.blocks = blocks
        self.payload = payload
        self.blockPresences = blockPresences
        self.pendingBytes = pendingBytes
    }

    /// True when the message carries no want, block or presence.
    public var isEmpty: Bool {
        (wantlist?.entries.isEmpty ?? true) && !(wantlist?.full ?? false) && blocks.isEmpty && payload.isEmpty
            && blockPresences.isEmpty
    }
}

/// A wantlist: its entries, and whether they replace the receiver's whole view of the sender's wants.
public struct BitswapWantlist: Sendable, Equatable {
    public var entries: [BitswapWantEntry]
    public var full: Bool

    public init(entries: [BitswapWantEntry] = [], full: Bool = false) {
        self.entries = entries
        self.full = full
    }
}

/// What a want asks for: the block itself, or (1.2.0) whether the receiver has it.
public enum BitswapWantType: UInt64, Sendable, Equatable {
    case block = 0
    case have = 1
}

/// One wantlist entry: a want, or with `cancel` the withdrawal of one.
public struct BitswapWantEntry: Sendable, Equatable {
    public var cid: CID
    /// Higher first (the spec's "normalized" priority; kubo counts down from 2^31-1).
    public var priority: Int32
    public var cancel: Bool
    public var wantType: BitswapWantType
    /// Asks for a DONT_HAVE presence when the receiver lacks the block (1.2.0).
    public var sendDontHave: Bool

    public init(cid: CID, priority: Int32 = 1, cancel: Bool = false, wantType: BitswapWantType = .block, sendDontHave: Bool = false) {
        self.cid = cid
        self.priority = priority
        self.cancel = cancel
        self.wantType = wantType
        self.sendDontHave = sendDontHave
    }

    /// The cancel entry for `cid`, as kubo writes it (priority 0, want type block).
    public static func cancel(_ cid: CID) -> BitswapWantEntry {
        BitswapWantEntry(cid: cid, priority: 0, cancel: true)
    }
}

/// A block of bitswap 1.1.0+: the CID prefix its receiver hashes `data` with, and the data.
public struct BitswapPayloadBlock: Sendable, Equatable {
    public var prefix: BitswapCIDPrefix
    public var data: [UInt8]

    public init(prefix: BitswapCIDPrefix, data: [UInt8]) {
        self.prefix = prefix
        self.data = data
    }
}

/// HAVE or DONT_HAVE (1.2.0).
public enum BitswapPresenceType: UInt64, Sendable, Equatable {
    case have = 0
    case dontHave = 1
}

/// A block presence: the sender has (or lacks) the block of `cid`.
public struct BitswapBlockPresence: Sendable, Equatable {
    public var cid: CID
    public var type: BitswapPresenceType

    public init(cid: CID, type: BitswapPresenceType) {
        self.cid = cid
        self.type = type
    }
}
