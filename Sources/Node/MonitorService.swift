public import ClusterModel
import Foundation
import Gossip
public import Logging
public import Multiformats
public import PeerMonitor

/// The pubsub monitor: publishes this peer's metrics on `metrics/<cluster_name>` every ping
/// interval, feeds every metric received into `PeerMonitorInstance`, checks for expired ones
/// every check interval, and hands alerts to whoever listens (`alerts()`: the repinning
/// logic). A metric is accepted only from the peer it is about (the pubsub message's signed
/// author), so no peer can keep another alive or declare it dead.
///
/// Messages are ipfs-cluster's metric JSON (`Specs/monitoring.md`). Expiry times are absolute
/// (Unix nanoseconds, as ipfs-cluster's): peers' clocks must agree to well under a TTL.
public actor MonitorService {
    public struct Settings: Sendable {
        public var clusterName = "pinmesh"
        public var pingInterval: Duration = .seconds(1)
        public var checkInterval: Duration = .seconds(1)
        /// Validity of the metrics other than `ping` (whose TTL is three ping intervals).
        public var informerTTL: Duration = .seconds(3)
        /// `informer.tags.tags`, published as `tag:<name>`.
        public var tags: [String: String] = ["group": "default"]
        /// The ping's value: the peer's name and its IPFS daemon's ID (`PingValue` JSON), so
        /// status listings name peers without another round trip.
        public var pingValue = ""
        public var monitor = PeerMonitorInstance.Settings()
        public init() {}
    }

    /// Values this peer reports besides `ping` and its tags (`freespace`, `pinqueue`,
    /// `numpin`), asked for at every publication; nil leaves a metric out.
    public typealias Informer = @Sendable () async -> (name: String, value: String, weight: Int64)?

    public let settings: Settings
    public nonisolated let topic: String
    private let pubsub: PubSubService
    private let me: PeerID
    private var instance: PeerMonitorInstance
    private var informers: [Informer] = []
    private var pingValue: String
    private var tasks: [Task<Void, Never>] = []
    private var listeners: [Int: AsyncStream<Alert>.Continuation] = [:]
    private var nextListener = 0
    private var logger: Logger
    /// Bytes of metric messages this peer published (for the bytes-per-second figure).
    public private(set) var bytesPublished = 0
    public private(set) var refused = 0

    public init(pubsub: PubSubService, me: PeerID, settings: Settings = Settings(), logger: Logger = Logger(label: "pinmesh.monitor")) {
        self.logger = logger
        self.pubsub = pubsub
        self.me = me
        self.settings = settings
        pingValue = settings.pingValue
        topic = "metrics/\(settings.clusterName)"
        instance = PeerMonitorInstance(settings: settings.monitor)
        self.logger[metadataKey: "peer"] = "\(me)"
    }

    public func addInformer(_ informer: @escaping Informer) { informers.append(informer) }

    /// Replaces the ping's value (once the IPFS daemon's ID is known).
    public func setPingValue(_ value: String) { pingValue = value }

    /// Nanoseconds since the Unix epoch (metrics' `expire`), from the realtime clock in
    /// integers: a Double holds today's value only to about 256 ns.
    static var nowNanos: Int64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    public func start() async {
        let stream = await pubsub.subscribe(topic)
        tasks.append(
            Task { [weak self] in
                for await message in stream { await self?.received(message) }
            })
        // The ping on its own schedule: an informer that waits on a busy IPFS daemon must never
        // hold it back (healthy peers were declared dead while `freespace` waited behind pins).
        tasks.append(
            Task { [weak self, settings] in
                while !Task.isCancelled {
                    await self?.publishPing()
                    try? await Task.sleep(for: settings.pingInterval)
                }
            })
        tasks.append(
            Task { [weak self, settings] in
                while !Task.isCancelled {
                    await self?.publishInformers()
                    try? await Task.sleep(for: settings.pingInterval)
                }
            })
        tasks.append(
            Task { [weak self, settings] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: settings.checkInterval)
                    await self?.check()
                }
            })
    }

    public func stop() {
        for t in tasks { t.cancel() }
        tasks = []
        for (_, c) in listeners { c.finish() }
        listeners = [:]
    }

    /// Alerts as they are raised (each listener gets every alert from now on).
    public func alerts() -> AsyncStream<Alert> {
        let (stream, continuation) = AsyncStream.makeStream(of: Alert.self, bufferingPolicy: .bufferingNewest(1024))
        nextListener += 1
        let id = nextListener
        listeners[id] = continuation
        continuation.onTermination = { [weak self] _ in Task { await self?.dropListener(id) } }
        return stream
    }

    private func dropListener(_ id: Int) { listeners[id] = nil }

    /// The peerset: peers with a live ping (this one included once it published).
    public func peers() -> [PeerID] { instance.peers(now: Self.nowNanos) }

    /// Drops every metric of `peer` (removed from the cluster); it returns with its next ping.
    public func forget(_ peer: PeerID) { instance.forget(peer) }

    public func isAlive(_ peer: PeerID) -> Bool { instance.isAlive(peer, now: Self.nowNanos) }

    /// Live metrics called `name`, one per peer.
    public func metrics(_ name: String) -> [Metric] { instance.metrics(name, now: Self.nowNanos) }

    public var metricNames: [String] { instance.metricNames }

    /// Every live metric value of `peer` (for the allocator).
    public func values(of peer: PeerID) -> [String: String] { instance.values(of: peer, now: Self.nowNanos) }

    /// Alerts raised so far, newest first.
    public var recentAlerts: [Alert] { instance.alerts }

    func received(_ message: GossipMessage) {
        guard let metric = try? JSONDecoder().decode(Metric.self, from: Data(message.data)) else {
            refused += 1
            return
        }
        // Only a peer speaks for itself.
        guard let from = message.from, from == metric.peer else {
            refused += 1
            logger.debug("metric about another peer refused", metadata: ["from": "\(message.from.map(\.description) ?? "?")", "about": "\(metric.peer)"])
            return
        }
        instance.receive(metric, now: Self.nowNanos)
    }

    /// The `ping` and the tags: values at hand, published without waiting on anything.
    func publishPing() async {
        let now = Self.nowNanos
        let pingTTL = PeerMonitor.pingTTL(interval: settings.pingInterval)
        var out = [Metric(name: "ping", peer: me, value: pingValue, expire: now + Self.nanos(pingTTL))]
        let ttl = Self.nanos(settings.informerTTL)
        for (k, v) in settings.tags.sorted(by: { $0.key < $1.key }) {
            out.append(Metric(name: "tag:\(k)", peer: me, value: v, expire: now + ttl, partitionable: true))
        }
        await publish(out, now: now)
    }

    /// The informers' metrics (`freespace`, `pinqueue`, …), each stamped when it answered.
    func publishInformers() async {
        var out: [Metric] = []
        for informer in informers {
            if let m = await informer() {
                out.append(Metric(name: m.name, peer: me, value: m.value, expire: Self.nowNanos + Self.nanos(settings.informerTTL), weight: m.weight))
            }
        }
        await publish(out, now: Self.nowNanos)
    }

    private func publish(_ out: [Metric], now: Int64) async {
        for m in out {
            instance.receive(m, now: now)
            guard let data = try? JSONEncoder().encode(m) else { continue }
            do {
                try await pubsub.publish(topic, Array(data))
                bytesPublished += data.count
            } catch {
                logger.warning("cannot publish a metric", metadata: ["metric": "\(m.name)", "error": "\(error)"])
            }
        }
    }

    func check() {
        let raised = instance.check(now: Self.nowNanos)
        for alert in raised {
            logger.info("metric expired", metadata: ["metric": "\(alert.metric.name)", "about": "\(alert.metric.peer)"])
            for (_, c) in listeners { c.yield(alert) }
        }
    }

    static func nanos(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}
