public import Bitswap
public import Logging
public import Multiformats

/// Bitswap over a ``Libp2pHost``: serves local blocks to any peer and fetches missing ones.
///
/// - Streams: as go-bitswap, one outbound stream per peer carries everything we send (the
///   first bitswap version the peer accepts, 1.2.0 first); every inbound stream is read in a
///   loop, messages of at most ``BitswapMessage/maxMessageBytes``. A malformed message resets
///   the stream it came on.
/// - Serving: wants go to ``BitswapServerEngine``; blocks come from `blocks`. Call
///   ``blockStored(_:)`` when a block is added locally, so peers waiting for it get it.
/// - Fetching: ``fetch(_:)`` for one block, ``session()`` for many; blocks are verified by
///   ``BitswapClient`` before they are returned. Nothing is stored here: the caller stores.
/// - Time: the shell's monotonic clock drives the client every ``BitswapServiceSettings/tickInterval``.
public actor BitswapService {
    /// Reads a local block; nil when it is not here.
    public typealias BlockLookup = @Sendable (CID) async -> [UInt8]?

    let host: Libp2pHost
    let lookup: BlockLookup
    let settings: BitswapServiceSettings
    let logger: Logger
    var engine: BitswapServerEngine
    var client: BitswapClient
    var senders: [PeerID: BitswapPeerSender] = [:]
    /// Inbound streams being read, and those waiting for a reading slot, per peer.
    var inboundStreams: [PeerID: Int] = [:]
    var inboundWaiters: [PeerID: [CheckedContinuation<Bool, Never>]] = [:]
    var sessionStreams: [BitswapSessionID: AsyncStream<BitswapFetchResult>.Continuation] = [:]
    var tasks: [Task<Void, Never>] = []
    /// The session every ``fetch(_:)`` shares, and the fetches waiting per CID.
    let fetchSession: BitswapSessionID
    var waiters: [CID: [UInt64: CheckedContinuation<[UInt8]?, Never>]] = [:]
    var lastWaiter: UInt64 = 0
    var stopped = false
    private let epoch = ContinuousClock.now

    /// - Throws: `BitswapError(.invalidSetting)` naming a setting out of range.
    public init(host: Libp2pHost, settings: BitswapServiceSettings = BitswapServiceSettings(),
                logger: Logger = Logger(label: "pinmesh.bitswap"), blocks: @escaping BlockLookup) throws(BitswapError) {
        try settings.validate()
        self.host = host
        self.settings = settings
        self.logger = logger
        self.lookup = blocks
        engine = try BitswapServerEngine(settings: settings.server)
        client = try BitswapClient(settings: settings.client)
        fetchSession = client.newSession()
    }

    /// Registers the bitswap protocols on the host (call before `host.start()`), follows its
    /// peer events, and starts the client's clock.
    public func start() {
        for id in BitswapProtocolVersion.protocolIDs {
            host.setStreamHandler(id) { [weak self] stream in await self?.readInbound(stream) }
        }
        let events = host.peerEvents()
        tasks.append(Task { [weak self] in
            for await event in events {
                guard let self else { return }
                switch event {
                case .connected(let peer): await self.peerConnected(peer)
                case .disconnected(let peer): await self.peerDisconnected(peer)
                }
            }
        })
        let interval = settings.tickInterval
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                await self.tick()
            }
        })
        for info in host.connectedPeers() { peerConnected(info.peer) }
    }

    /// Stops the loops, closes every outbound stream, resets the inbound streams waiting to be
    /// read, ends every session and returns nil to every waiting fetch.
    public func stop() async {
        stopped = true
        let waiting = inboundWaiters.values.flatMap { $0 }
        inboundWaiters = [:]
        for w in waiting { w.resume(returning: false) }
        for task in tasks { task.cancel() }
        tasks = []
        for (_, sender) in senders { sender.close() }
        senders = [:]
        for (_, c) in sessionStreams { c.finish() }
        sessionStreams = [:]
        for cid in waiters.keys { resumeWaiters(cid, nil) }
    }

    public var serverCounters: BitswapServerCounters { engine.counters }
    public var clientCounters: BitswapClientCounters { client.counters }
    /// CIDs the client wants now, sorted.
    public var wanted: [CID] { client.wantedCIDs }
    /// Peers with an open outbound bitswap stream, sorted.
    public var bitswapPeers: [PeerID] { senders.filter { $0.value.version != nil }.keys.sorted() }

    // MARK: API

    /// The block of `cid` from whichever connected peer has it, verified; nil when none had it
    /// within the client's give-up time. Cancelling the calling task cancels the want.
    ///
    /// Every `fetch` shares one session, so the providers learned by one are asked first by the
    /// next (a DAG walk by single fetches goes straight to the peers that had its blocks);
    /// concurrent fetches of one CID share its want.
    public func fetch(_ cid: CID) async throws -> [UInt8]? {
        lastWaiter += 1
        let id = lastWaiter
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<[UInt8]?, Never>) in
                addWaiter(cid, id, c)
            }
        } onCancel: {
            Task { await self.cancelWaiter(cid, id) }
        }
        try Task.checkCancellation()
        return result
    }

    private func addWaiter(_ cid: CID, _ id: UInt64, _ c: CheckedContinuation<[UInt8]?, Never>) {
        guard !stopped else { return c.resume(returning: nil) }
        let first = waiters[cid]?.isEmpty ?? true
        waiters[cid, default: [:]][id] = c
        if first { perform(client.want([cid], session: fetchSession, now: now)) }
    }

    private func cancelWaiter(_ cid: CID, _ id: UInt64) {
        guard let c = waiters[cid]?.removeValue(forKey: id) else { return }
        c.resume(returning: nil)
        if waiters[cid]?.isEmpty == true {
            waiters[cid] = nil
            perform(client.cancel([cid], session: fetchSession, now: now))
        }
    }

    /// Resumes every `fetch` waiting for `cid`.
    func resumeWaiters(_ cid: CID, _ bytes: [UInt8]?) {
        for (_, c) in waiters.removeValue(forKey: cid) ?? [:] { c.resume(returning: bytes) }
    }

    /// A new fetch session: add CIDs to it as they are discovered (a DAG walk), read results.
    public func session() -> BitswapFetchSession {
        let id = client.newSession()
        let (stream, continuation) = AsyncStream.makeStream(of: BitswapFetchResult.self)
        sessionStreams[id] = continuation
        return BitswapFetchSession(id: id, service: self, results: stream)
    }

    /// A block was stored locally: peers that want it get it.
    public func blockStored(_ cid: CID) { perform(engine.onBlockStored(cid)) }

    func want(_ cids: [CID], session: BitswapSessionID) {
        guard sessionStreams[session] != nil else { return }
        perform(client.want(cids, session: session, now: now))
    }

    func closeSession(_ session: BitswapSessionID) {
        sessionStreams.removeValue(forKey: session)?.finish()
        perform(client.closeSession(session))
    }

    var now: Duration { ContinuousClock.now - epoch }

    private func tick() { perform(client.onTick(now: now)) }
}
