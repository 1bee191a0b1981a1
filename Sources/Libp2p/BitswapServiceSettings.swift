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
    /// Inbound bitswap streams read at once per peer (each may hold a 4 MiB message being
    /// read); a stream beyond it is reset. go-bitswap opens one per peer.
    public var maxInboundStreamsPerPeer = 4

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
        guard maxQueuedMessagesPerPeer >= 16 else {
            throw BitswapError(.invalidSetting, "bitswap service: maxQueuedMessagesPerPeer must be at least 16, got \(maxQueuedMessagesPerPeer)")
        }
    }
}
