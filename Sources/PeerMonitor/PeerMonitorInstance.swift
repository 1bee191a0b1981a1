public import ClusterModel
public import Multiformats

/// The pubsub monitor's rules, with no clock and no network: metrics in (`receive`), time in
/// (`check(now:)`), alerts and the peerset out. The node's service publishes this peer's
/// metrics on `metrics/<cluster_name>`, feeds every received one here, and calls `check` every
/// `check_interval`.
///
/// - Only the newest metric per (name, peer) is kept; an older or invalid one is ignored.
/// - A metric past its `expire` raises one alert, when `check` first sees it expired; a new
///   metric from that peer re-arms it. Alerts are kept newest first, at most `maxAlerts`.
/// - The peerset is the peers with an unexpired `ping`.
public struct PeerMonitorInstance: Sendable {
    public struct Settings: Sendable {
        /// Alerts kept for the API (oldest dropped first).
        public var maxAlerts = 1000
        /// Peers tracked at most; metrics from more are refused (a flood of made-up peer IDs
        /// cannot grow memory without bound).
        public var maxPeers = 10_000
        public init() {}
    }

    public let settings: Settings
    /// name → peer → newest metric.
    private var latest: [String: [PeerID: Metric]] = [:]
    /// (name, peer) whose current metric already raised its alert.
    private var alerted: Set<Key> = []
    public private(set) var alerts: [Alert] = []
    private var peersSeen: Set<PeerID> = []

    struct Key: Hashable, Sendable {
        let name: String
        let peer: PeerID
    }

    public init(settings: Settings = Settings()) { self.settings = settings }

    public enum Received: Equatable, Sendable {
        case stored
        /// Not newer than the metric already kept.
        case stale
        /// `valid` was false, or it was already expired on arrival.
        case invalid
        /// More peers than `maxPeers`.
        case tooManyPeers
    }

    /// Takes a metric received at `now` (Unix nanoseconds).
    @discardableResult
    public mutating func receive(_ metric: Metric, now: Int64) -> Received {
        guard metric.valid, !metric.expired(at: now) else { return .invalid }
        if !peersSeen.contains(metric.peer) {
            guard peersSeen.count < settings.maxPeers else { return .tooManyPeers }
            peersSeen.insert(metric.peer)
        }
        if let old = latest[metric.name]?[metric.peer], old.expire >= metric.expire { return .stale }
        var m = metric
        m.receivedAt = now
        latest[metric.name, default: [:]][metric.peer] = m
        alerted.remove(Key(name: metric.name, peer: metric.peer))
        return .stored
    }

    /// Raises an alert for every metric that expired since the last check; returns them.
    public mutating func check(now: Int64) -> [Alert] {
        var raised: [Alert] = []
        for (name, byPeer) in latest {
            for (peer, m) in byPeer where m.expired(at: now) {
                let key = Key(name: name, peer: peer)
                guard !alerted.contains(key) else { continue }
                alerted.insert(key)
                raised.append(Alert(metric: m, triggeredAt: Timestamp(unixMillis: now / 1_000_000)))
            }
        }
        raised.sort { ($0.metric.expire, $0.metric.name, $0.metric.peer) < ($1.metric.expire, $1.metric.name, $1.metric.peer) }
        alerts.insert(contentsOf: raised.reversed(), at: 0)
        if alerts.count > settings.maxAlerts { alerts.removeLast(alerts.count - settings.maxAlerts) }
        return raised
    }

    /// Peers with a live `ping`, sorted.
    public func peers(now: Int64) -> [PeerID] {
        (latest["ping"] ?? [:]).values.filter { !$0.expired(at: now) }.map(\.peer).sorted()
    }

    /// Whether `peer` has a live `ping`.
    public func isAlive(_ peer: PeerID, now: Int64) -> Bool {
        latest["ping"]?[peer].map { !$0.expired(at: now) } ?? false
    }

    /// The live metrics called `name`, one per peer, sorted by peer.
    public func metrics(_ name: String, now: Int64) -> [Metric] {
        (latest[name] ?? [:]).values.filter { !$0.expired(at: now) }.sorted { $0.peer < $1.peer }
    }

    /// The names of every metric kept.
    public var metricNames: [String] { latest.keys.sorted() }

    /// The live metrics of one peer by name (what the allocator needs).
    public func values(of peer: PeerID, now: Int64) -> [String: String] {
        var out: [String: String] = [:]
        for (name, byPeer) in latest {
            if let m = byPeer[peer], !m.expired(at: now) { out[name] = m.value }
        }
        return out
    }

    /// Drops everything known about `peer` (it left the cluster).
    public mutating func forget(_ peer: PeerID) {
        for name in latest.keys { latest[name]?[peer] = nil }
        alerted = alerted.filter { $0.peer != peer }
        peersSeen.remove(peer)
    }
}

/// The TTL of `ping` for a ping interval: three intervals, so one or two lost pings do not
/// make a peer look dead, and a dead peer is noticed within three intervals plus one check.
public func pingTTL(interval: Duration) -> Duration { interval * 3 }
