public import Bitswap

/// The bitswap service's settings: the engine's and the client's, and the shell's clock.
public struct BitswapServiceSettings: Sendable, Equatable {
    public var server = BitswapServerSettings()
    public var client = BitswapClientSettings()
    /// How often the client's timers are driven (`onTick`).
    public var tickInterval: Duration = .milliseconds(250)
    /// Messages queued for one peer's stream beyond which the peer is dropped from bitswap
    /// (its stream reset): a peer that does not read cannot hold memory without bound.
    public var maxQueuedMessagesPerPeer = 4096
    /// Inbound bitswap streams read at once per peer (each may assemble a message of up to
    /// 4 MiB); further streams wait their turn. kubo (boxo) sends every response message on a
    /// stream of its own, up to 8 at once, so they must wait, not be reset: a reset loses a block.
    public var maxInboundStreamsPerPeer = 4
    /// Inbound streams of one peer waiting for a reading slot; one more is reset. A waiting
    /// stream is not read, so it holds no more than its yamux receive window.
    public var maxWaitingInboundStreamsPerPeer = 64

    public init() {}

    /// Throws when a setting is out of range, naming it.
    public func validate() throws(BitswapError) {
        try server.validate()
        try client.validate()
        guard tickInterval > .zero, tickInterval <= .seconds(5) else {
            throw BitswapError(.invalidSetting, "bitswap service: tickInterval must be in (0, 5 s], got \(tickInterval)")
        }
        guard maxInboundStreamsPerPeer >= 1 else {
            throw BitswapError(.invalidSetting, "bitswap service: maxInboundStreamsPerPeer must be at least 1, got \(maxInboundStreamsPerPeer)")
        }
        guard maxWaitingInboundStreamsPerPeer >= 0 else {
            throw BitswapError(.invalidSetting, "bitswap service: maxWaitingInboundStreamsPerPeer must not be negative, got \(maxWaitingInboundStreamsPerPeer)")
        }
        guard maxQueuedMessagesPerPeer >= 16 else {
            throw BitswapError(.invalidSetting, "bitswap service: maxQueuedMessagesPerPeer must be at least 16, got \(maxQueuedMessagesPerPeer)")
        }
    }
}
