public import Gossip
public import Logging
public import Multiformats
import SecureChannel
public import Sodium
public import Transport
import NIOConcurrencyHelpers

/// Runs the pubsub router (`GossipInstance`) over the secure transport, with a real clock.
///
/// Frames that carry messages, IWANT or state changes (subscriptions, GRAFT, PRUNE, CHOKE,
/// UNCHOKE) go as one-way RPC messages on the peer's TCP connection, in order: gossipsub assumes
/// mesh links do not lose messages (mesh peers never gossip to each other), and a lost IWANT
/// would count as the advertiser's broken promise. Frames of only IHAVE and IDONTWANT that fit
/// one datagram go as datagrams: losing one costs a little efficiency, never a message.
/// Datagram payloads start with a one-byte protocol tag (1 = pubsub); see `Specs/pubsub.md`.
public actor PubSubService {
    /// The one-way RPC method that carries pubsub frames.
    public static let frameMethod = "pinmesh/pubsub"
    /// The first byte of a pubsub datagram.
    public static let datagramTag: UInt8 = 1
    /// Until multiplexed streams exist, a message must fit one RPC record with room for its frame.
    public static let maxMessageBytes = RPCFrame.maxPayload - 4096

    /// Inbound frames waiting for the router; beyond this they are dropped (and counted) until
    /// streams bring real backpressure. A dropped frame is repaired like a lost one.
    public static let maxQueuedFrames = 65_536

    private enum Inbound: Sendable {
        case frame(PeerID, [UInt8])
        case connection(PeerID, ConnectionEvent)
    }

    private var router: GossipInstance
    private let transport: SecureTransport
    private let logger: Logger
    private let epoch = ContinuousClock.now
    private var subscribers: [String: [Int: AsyncStream<GossipMessage>.Continuation]] = [:]
    private var nextSubscriber = 0
    private var peerWaiters: [(topic: String, count: Int, continuation: CheckedContinuation<Bool, Never>, id: Int)] = []
    private var tasks: [Task<Void, Never>] = []
    private var scheduledWake: Duration?
    private var wakeTask: Task<Void, Never>?
    private var connections: ConnectionManager?
    private let inbound: AsyncStream<Inbound>
    private let inboundContinuation: AsyncStream<Inbound>.Continuation
    private let dropped = NIOLockedValueBox(0)

    /// Inbound frames dropped because the router fell `maxQueuedFrames` behind.
    public nonisolated var droppedFrames: Int { dropped.withLockedValue { $0 } }

    /// - Throws: `GossipError(.invalidSetting)` when the settings are inconsistent or allow
    ///   messages over ``maxMessageBytes``.
    public init(
        transport: SecureTransport, identity: Ed25519.PrivateKey, settings: GossipSettings = GossipSettings(),
        scoreSettings: PeerScoreSettings = PeerScoreSettings(), logger: Logger = Logger(label: "pinmesh.pubsub")
    ) throws(GossipError) {
        var settings = settings
        if settings.maxMessageBytes == GossipSettings().maxMessageBytes { settings.maxMessageBytes = Self.maxMessageBytes }
        guard settings.maxMessageBytes <= Self.maxMessageBytes else {
            throw GossipError(.invalidSetting, "max_message_bytes \(settings.maxMessageBytes) exceeds \(Self.maxMessageBytes), the most one transport record carries until streams exist; lower it")
        }
        router = try GossipInstance(identity: identity, settings: settings, scoreSettings: scoreSettings, seed: SodiumRandom.bytes(8).reduce(0) { $0 << 8 | UInt64($1) })
        self.transport = transport
        var logger = logger
        logger[metadataKey: "peer"] = "\(transport.localPeer)"
        self.logger = logger
        (inbound, inboundContinuation) = AsyncStream.makeStream(of: Inbound.self, bufferingPolicy: .bufferingOldest(Self.maxQueuedFrames))
    }

    /// Hooks into the transport (its datagrams and connection events) and starts the heartbeat.
    /// Peers already connected are added at once.
    public func start() {
        let sink = inboundContinuation
        let dropped = self.dropped
        let logger = self.logger
        @Sendable func enqueue(_ event: Inbound) {
            if case .dropped = sink.yield(event) {
                let n = dropped.withLockedValue { $0 += 1; return $0 }
                if n & (n - 1) == 0 { logger.warning("pubsub is \(Self.maxQueuedFrames) frames behind: \(n) inbound frames dropped so far") }
            }
        }
        transport.server.registerOneWay(Self.frameMethod) { peer, payload in enqueue(.frame(peer, payload)) }
        transport.onDatagram { peer, payload in
            guard payload.first == PubSubService.datagramTag else { return }
            enqueue(.frame(peer, Array(payload.dropFirst())))
        }
        transport.onConnectionChange { peer, event in enqueue(.connection(peer, event)) }
        for peer in transport.connectedPeers { perform(router.addPeer(peer, outbound: false, now: now)) }
        let stream = inbound
        tasks.append(Task { [weak self] in
            for await event in stream {
                guard let self else { return }
                await self.handle(event)
            }
        })
        let interval = router.settings.heartbeatInterval
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                await self.heartbeat()
            }
        })
    }

    /// Peers suggested by peer exchange (in PRUNE) are dialled through `manager`, at the
    /// addresses its peerstore knows; without one they are only logged.
    public func dialExchangedPeers(through manager: ConnectionManager) { connections = manager }

    /// Stops the loops and ends every subscription stream.
    public func stop() {
        for task in tasks { task.cancel() }
        tasks = []
        wakeTask?.cancel()
        wakeTask = nil
        inboundContinuation.finish()
        for (_, streams) in subscribers { for (_, c) in streams { c.finish() } }
        subscribers = [:]
        for waiter in peerWaiters { waiter.continuation.resume(returning: false) }
        peerWaiters = []
    }

    // MARK: API

    /// Joins `topic` (if not yet) and returns a stream of its new valid messages from others.
    /// We stay joined until `unsubscribe(_:)`, whether or not the stream is still read.
    public func subscribe(_ topic: String) -> AsyncStream<GossipMessage> {
        let (stream, continuation) = AsyncStream.makeStream(of: GossipMessage.self, bufferingPolicy: .bufferingNewest(4096))
        nextSubscriber += 1
        let id = nextSubscriber
        subscribers[topic, default: [:]][id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.dropStream(topic, id) }
        }
        perform(router.subscribe(topic, now: now))
        return stream
    }

    /// Leaves `topic` and ends its streams.
    public func unsubscribe(_ topic: String) {
        for (_, c) in subscribers.removeValue(forKey: topic) ?? [:] { c.finish() }
        perform(router.unsubscribe(topic, now: now))
    }

    private func dropStream(_ topic: String, _ id: Int) { subscribers[topic]?[id] = nil }

    /// Publishes `data` on `topic`; throws `tooLarge` over the message limit.
    @discardableResult
    public func publish(_ topic: String, _ data: [UInt8]) throws(GossipError) -> MessageID {
        let (id, actions) = try router.publish(topic, data, now: now)
        perform(actions)
        return id
    }

    /// Installs the validator of `topic` (runs inside the actor: keep it quick).
    public func setValidator(_ topic: String, _ validator: GossipInstance.Validator?) { router.setValidator(topic, validator) }

    public func meshPeers(_ topic: String) -> [PeerID] { router.meshPeers(topic) }
    public func peers(subscribedTo topic: String) -> [PeerID] { router.peers(subscribedTo: topic) }
    public var counters: GossipCounters { router.counters }
    /// Peers the router knows as connected, sorted.
    public var connectedPeers: [PeerID] { router.connectedPeers }

    /// Waits until at least `count` connected peers announced `topic`, or `timeout` passes.
    public func waitForPeers(subscribedTo topic: String, count: Int, timeout: Duration) async -> Bool {
        if router.peers(subscribedTo: topic).count >= count { return true }
        nextSubscriber += 1
        let id = nextSubscriber
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expireWaiter(id)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { peerWaiters.append((topic, count, $0, id)) }
    }

    private func expireWaiter(_ id: Int) {
        guard let i = peerWaiters.firstIndex(where: { $0.id == id }) else { return }
        peerWaiters.remove(at: i).continuation.resume(returning: false)
    }

    // MARK: driving the router

    private var now: Duration { ContinuousClock.now - epoch }

    private func handle(_ event: Inbound) {
        switch event {
        case .frame(let peer, let bytes):
            let rpc: GossipRPC
            do {
                rpc = try GossipRPC(decoding: bytes, maxMessageBytes: router.settings.maxMessageBytes)
            } catch {
                logger.warning("dropping a malformed pubsub frame", metadata: ["remote": "\(peer)", "error": "\(error)"])
                return
            }
            perform(router.receive(rpc, from: peer, now: now))
            if !rpc.subscriptions.isEmpty { wakePeerWaiters() }
        case .connection(let peer, .connected(let outbound)):
            perform(router.addPeer(peer, outbound: outbound, now: now))
        case .connection(let peer, .disconnected):
            router.removePeer(peer, now: now)
        }
    }

    private func heartbeat() { perform(router.heartbeat(now: now)) }

    private func tick() {
        scheduledWake = nil
        perform(router.tick(now: now))
    }

    private func wakePeerWaiters() {
        peerWaiters.removeAll { waiter in
            guard router.peers(subscribedTo: waiter.topic).count >= waiter.count else { return false }
            waiter.continuation.resume(returning: true)
            return true
        }
    }

    private func perform(_ actions: [GossipAction]) {
        for action in actions {
            switch action {
            case .send(let peer, let rpc): send(rpc, to: peer)
            case .deliver(let message, _, _):
                for (_, c) in subscribers[message.topic] ?? [:] { c.yield(message) }
            case .connect(let peers, let topic):
                guard let connections else {
                    logger.debug("peer exchange offered \(peers.count) peers of \(topic); no connection manager to dial them")
                    continue
                }
                Task { for peer in peers { await connections.connect(to: peer) } }
            }
        }
        // One wake-up task at a time, replaced when an earlier one is needed.
        if let wake = router.nextWakeup, scheduledWake.map({ wake < $0 }) ?? true {
            scheduledWake = wake
            let delay = max(.zero, wake - now)
            wakeTask?.cancel()
            wakeTask = Task { [weak self] in
                try? await Task.sleep(for: delay)
                guard !Task.isCancelled else { return }
                await self?.tick()
            }
        }
    }

    private func send(_ rpc: GossipRPC, to peer: PeerID) {
        for frame in rpc.split(maxBytes: RPCFrame.maxPayload) {
            let bytes = frame.encoded()
            let reliable = !frame.messages.isEmpty || !frame.iwant.isEmpty || !frame.subscriptions.isEmpty
                || !frame.graft.isEmpty || !frame.prune.isEmpty || !frame.choke.isEmpty || !frame.unchoke.isEmpty
            if !reliable, bytes.count < DatagramMessages.maxMessage {
                let transport = self.transport
                Task { try? await transport.sendDatagram([Self.datagramTag] + bytes, to: peer) }
                continue
            }
            guard let connection = transport.connection(to: peer) else { continue }
            do { try connection.send(Self.frameMethod, bytes) } catch {
                logger.warning("pubsub frame not sent", metadata: ["remote": "\(peer)", "error": "\(error)"])
            }
        }
    }
}
