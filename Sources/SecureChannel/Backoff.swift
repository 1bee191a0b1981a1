/// Reconnection delays: exponential from `base` to `max`, with "full jitter" (a uniform draw
/// between zero and the exponential value) so peers that lost one another do not redial in
/// lockstep. Randomness is injected.
public struct Backoff: Sendable, Hashable {
    public var base: Duration
    public var max: Duration

    public init(base: Duration = .milliseconds(200), max: Duration = .seconds(30)) {
        precondition(base > .zero && max >= base, "backoff needs 0 < base <= max")
        self.base = base
        self.max = max
    }

    /// The ceiling for attempt `n` (0-based): base · 2^n, capped at `max`.
    public func ceiling(attempt: Int) -> Duration {
        let doublings = Swift.min(Swift.max(attempt, 0), 40)
        var d = base
        for _ in 0..<doublings {
            d = d * 2
            if d >= max { return max }
        }
        return Swift.min(d, max)
    }

    /// The delay before attempt `n`: uniform in [0, ceiling(n)].
    public func delay(attempt: Int, using rng: inout some RandomNumberGenerator) -> Duration {
        let c = ceiling(attempt: attempt)
        let nanos = c.components.seconds * 1_000_000_000 + c.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: 0...Swift.max(nanos, 0), using: &rng))
    }
}

/// Which of two connections between the same pair of peers survives: the one dialled by the
/// peer with the smaller ID, so both sides decide alike without talking.
public enum DuplicateConnectionRule {
    /// True when the connection dialled by `dialler` survives, the pair being `a` and `b`.
    public static func keeps<ID: Comparable>(dialledBy dialler: ID, between a: ID, and b: ID) -> Bool {
        dialler == Swift.min(a, b)
    }
}
