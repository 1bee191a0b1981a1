/// The client's windows and timers.
public struct BitswapClientSettings: Sendable, Equatable {
    /// Wants in flight per session; the rest of a session's CIDs wait their turn.
    public var sessionWindow = 32
    /// A want-block unanswered by a peer for this long counts as that peer's DONT_HAVE
    /// (boxo's DONT_HAVE timeout tops out at 5 s for peers that do not send DONT_HAVE).
    public var blockTimeout: Duration = .seconds(5)
    /// A want that no peer is known to have is asked again of every connected peer this often.
    public var rebroadcastInterval: Duration = .seconds(2)
    /// A want that no peer is known to have after this long is given up (reported not found).
    public var giveUpAfter: Duration = .seconds(15)
    /// Wants held at once, over every session; a session's CIDs beyond it wait.
    public var maxLiveWants = 4096
    /// A peer that delivered a block this recently gets the want-block of a new want whose
    /// session has no provider yet (the want-have broadcast still goes to the others), so
    /// one-block sessions (`fetch(cid)`) save a round trip. Zero turns it off.
    public var recentProviderWindow: Duration = .seconds(5)
    /// Each new want of a session that has providers also goes as want-have to this many
    /// connected 1.2.0 peers that are not its providers, taken in turn (sorted by peer ID), so
    /// a session finds providers beyond the first one that answered. Zero turns it off.
    public var discoveryPeersPerWant = 1
    /// A non-provider asked want-have that had not said HAVE when another peer delivered the
    /// block, for this many of a session's wants in a row, is left out of that session's
    /// discovery for ``discoveryPause``, so a peer with none of a DAG is not asked for all of it.
    public var discoveryMisses = 8
    public var discoveryPause: Duration = .seconds(30)

    public init() {}

    /// Throws when a setting is out of range, naming it.
    public func validate() throws(BitswapError) {
        func check(_ ok: Bool, _ what: String) throws(BitswapError) {
            if !ok { throw BitswapError(.invalidSetting, "bitswap client: \(what)") }
        }
        try check((1...1024).contains(sessionWindow), "sessionWindow must be 1...1024, got \(sessionWindow)")
        try check(blockTimeout > .zero, "blockTimeout must be positive, got \(blockTimeout)")
        try check(rebroadcastInterval > .zero, "rebroadcastInterval must be positive, got \(rebroadcastInterval)")
        try check(giveUpAfter > .zero, "giveUpAfter must be positive, got \(giveUpAfter)")
        try check(recentProviderWindow >= .zero, "recentProviderWindow must not be negative, got \(recentProviderWindow)")
        try check((0...16).contains(discoveryPeersPerWant), "discoveryPeersPerWant must be 0...16, got \(discoveryPeersPerWant)")
        try check(discoveryMisses >= 1, "discoveryMisses must be at least 1, got \(discoveryMisses)")
        try check(discoveryPause >= .zero, "discoveryPause must not be negative, got \(discoveryPause)")
        try check(maxLiveWants >= sessionWindow, "maxLiveWants must be at least sessionWindow (\(sessionWindow)), got \(maxLiveWants)")
    }
}
