/// The server engine's per-peer limits, with kubo's (boxo's) defaults where it has them.
public struct BitswapServerSettings: Sendable, Equatable {
    /// Wants kept per peer (boxo: 1,024); a want beyond it is answered DONT_HAVE when asked
    /// for one, and not kept.
    public var maxWantsPerPeer = 1024
    /// Bytes of messages handed to the shell and not yet reported sent, per peer (boxo: 1 MiB).
    /// Over it, responses wait in the peer's queue.
    public var maxOutstandingBytesPerPeer = 1 << 20
    /// Bytes of looked-up blocks held in a peer's queue. A block that would go over it is not
    /// held: its want stays in the ledger and is looked up again when the queue drains.
    public var maxQueuedBytesPerPeer = 4 << 20
    /// A message is filled with responses up to about this many bytes (one larger block goes alone).
    public var targetMessageBytes = 256 << 10
    /// A want-have for a block of at most this many bytes is answered with the block (boxo: 1,024).
    public var wantHaveReplaceBytes = 1024
    /// Deferred wants looked up again at a time once a peer's queue drains.
    public var deferredLookupBatch = 16

    public init() {}

    /// Throws when a limit is out of range, naming it.
    public func validate() throws(BitswapError) {
        func check(_ ok: Bool, _ what: String) throws(BitswapError) {
            if !ok { throw BitswapError(.invalidSetting, "bitswap server: \(what)") }
        }
        try check(maxWantsPerPeer >= 1, "maxWantsPerPeer must be at least 1, got \(maxWantsPerPeer)")
        try check(maxOutstandingBytesPerPeer >= 1, "maxOutstandingBytesPerPeer must be at least 1, got \(maxOutstandingBytesPerPeer)")
        try check(maxQueuedBytesPerPeer >= BitswapMessage.maxBlockBytes,
                  "maxQueuedBytesPerPeer must hold one largest block (\(BitswapMessage.maxBlockBytes) bytes), got \(maxQueuedBytesPerPeer)")
        try check((1...BitswapMessage.maxMessageBytes / 2).contains(targetMessageBytes),
                  "targetMessageBytes must be 1...\(BitswapMessage.maxMessageBytes / 2), got \(targetMessageBytes)")
        try check((0...BitswapMessage.maxBlockBytes).contains(wantHaveReplaceBytes), "wantHaveReplaceBytes must be 0...\(BitswapMessage.maxBlockBytes), got \(wantHaveReplaceBytes)")
        try check(deferredLookupBatch >= 1, "deferredLookupBatch must be at least 1, got \(deferredLookupBatch)")
    }
}
