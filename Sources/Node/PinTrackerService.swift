public import ClusterModel
public import Datastore
import Foundation
public import IPFSConnector
public import Logging
public import Multiformats
public import PinTracker
import UnixFS

/// The stateless pin tracker on a running peer: it keeps no copy of the pinset. Operations
/// (pin, unpin) run on at most `concurrentPins` workers against the IPFS daemon; a pin is
/// cancelled after `pinTimeout` without progress (never for being long). Status comes from
/// the operation in flight, else from the shared state and the daemon's `pin/ls`.
public actor PinTrackerService {
    public struct Settings: Sendable {
        public var concurrentPins = 10
        /// A pin with no progress for this long is cancelled and counted as failed.
        public var pinTimeout: Duration = .seconds(120)
        public var unpinTimeout: Duration = .seconds(3 * 3600)
        public var instance = PinTrackerInstance.Settings()
        public init() {}
    }

    public let settings: Settings
    private let connector: any IPFSConnector
    private let state: PinsetDatabase
    private let me: PeerID
    private let peername: String
    private var instance: PinTrackerInstance
    private var running: [UInt64: Task<Void, Never>] = [:]
    /// The shared view of the daemon's recursive pins (``pinnedSet()``).
    private var pinnedView: Set<[UInt8]>?
    private var pinnedViewAt = ContinuousClock.now
    private var pinnedRefresh: Task<Set<[UInt8]>, any Error>?
    private var changedDuringRefresh: [([UInt8], Bool)] = []
    private var stopped = false
    private let logger: Logger
    /// The IPFS daemon's ID, for status entries.
    public var ipfsID: String?

    /// Listeners of finished operations.
    private var listeners: [Int: AsyncStream<Finished>.Continuation] = [:]
    private var nextListener = 0

    /// One operation's end, as `finishedOperations()` reports it.
    public struct Finished: Sendable {
        public let cid: CID
        public let kind: TrackedOperation.Kind
        /// nil on success.
        public let error: String?
    }

    public private(set) var pinsDone = 0
    public private(set) var pinsFailed = 0
    /// Pins that reached pinned here since the tracker started (the `pinned_total` metric):
    /// pin operations that succeeded on a CID the daemon's pin listing (``pinnedSet()``, as
    /// last read and updated) did not hold when the operation started, so a repeated pin of a
    /// CID already pinned is not counted again.
    public private(set) var pinsPinned = 0
    /// Running pin operations whose CID was not pinned when they started.
    private var pinsFromUnpinned: Set<UInt64> = []

    public init(
        connector: any IPFSConnector, state: PinsetDatabase, me: PeerID, peername: String, settings: Settings = Settings(),
        logger: Logger = Logger(label: "pinmesh.tracker")
    ) {
        self.connector = connector
        self.state = state
        self.me = me
        self.peername = peername
        self.settings = settings
        instance = PinTrackerInstance(settings: settings.instance)
        var logger = logger
        logger[metadataKey: "peer"] = "\(peername)"
        self.logger = logger
    }

    /// Cancels every running operation; queued ones are dropped (the next start re-derives
    /// them from the shared state and the daemon).
    public func stop() async {
        stopped = true
        for (_, c) in listeners { c.finish() }
        listeners = [:]
        let tasks = running.values
        running = [:]
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
    }

    public func setIPFSID(_ id: String, addresses: [String] = []) {
        ipfsID = id
        ipfsAddresses = addresses
    }

    /// The IPFS daemon's swarm addresses, for status entries (`ipfs_peer_addresses`).
    public private(set) var ipfsAddresses: [String] = []

    /// Every operation that ends from now on (for tests and benchmarks: no polling).
    public func finishedOperations() -> AsyncStream<Finished> {
        let (stream, c) = AsyncStream.makeStream(of: Finished.self, bufferingPolicy: .bufferingNewest(100_000))
        nextListener += 1
        let id = nextListener
        listeners[id] = c
        c.onTermination = { [weak self] _ in Task { await self?.dropListener(id) } }
        return stream
    }

    private func dropListener(_ id: Int) { listeners[id] = nil }

    /// Operations queued (the `pinqueue` metric).
    public var queued: Int { instance.queuedCount }

    /// Failed operations waiting for a retry.
    public var failedCount: Int { instance.failedCount }

    /// Operations running now.
    public var inProgress: Int { running.count }

    // MARK: changes

    /// Reacts to a change of the shared state on `cids`: pins allocated here are queued for
    /// pinning, the others for unpinning (a no-op when the daemon does not have them).
    public func changed(_ cids: [CID]) {
        for cid in cids {
            let pin: Pin?
            do {
                pin = try state.pin(cid)
            } catch {
                logger.error("cannot read the shared state", metadata: ["cid": "\(cid)", "error": "\(error)"])
                continue
            }
            if let pin, PinTrackerInstance.isAllocated(pin, to: me) {
                if pin.type == .meta { continue }
                enqueue(.pin, pin)
            } else {
                enqueue(.unpin, pin ?? Pin(cid: cid))
            }
        }
        pump()
    }

    /// Queues every pin allocated here that the daemon lacks (at start, and after the daemon
    /// was unreachable). Reads the daemon's recursive pins once, then walks the state.
    public func reconcile() async throws {
        let pinned = try await pinnedInIPFS()
        var missing: [Pin] = []
        try state.forEachPin { pin in
            if PinTrackerInstance.isAllocated(pin, to: me), pin.type != .meta, !pinned.contains(pin.cid.bytes),
                instance.operation(pin.cid) == nil
            {
                missing.append(pin)
            }
        }
        for pin in missing { enqueue(.pin, pin) }
        if !missing.isEmpty { logger.info("queued pins the IPFS daemon lacks", metadata: ["count": "\(missing.count)"]) }
        pump()
    }

    private func enqueue(_ kind: TrackedOperation.Kind, _ pin: Pin) {
        do {
            if let replaced = try instance.enqueue(kind, pin, now: .now()) {
                running.removeValue(forKey: replaced)?.cancel()
            }
        } catch {
            logger.error("cannot queue an operation", metadata: ["cid": "\(pin.cid)", "error": "\(error)"])
        }
    }

    // MARK: workers

    private func pump() {
        while !stopped, running.count < settings.concurrentPins, let op = instance.next(now: .now()) {
            if op.kind == .pin, pinnedView?.contains(op.pin.cid.bytes) != true { pinsFromUnpinned.insert(op.id) }
            running[op.id] = Task { [weak self] in
                let error = await self?.perform(op)
                await self?.finished(op, error: error)
            }
        }
    }

    private func finished(_ op: TrackedOperation, error: String?) {
        let fromUnpinned = pinsFromUnpinned.remove(op.id) != nil
        // A cancelled operation (replaced, or the tracker stopped) was removed already.
        guard running.removeValue(forKey: op.id) != nil else { return }
        instance.finish(op.pin.cid, id: op.id, error: error, now: .now())
        for (_, c) in listeners { c.yield(Finished(cid: op.pin.cid, kind: op.kind, error: error)) }
        if let error {
            pinsFailed += 1
            logger.warning("\(op.kind.rawValue) failed", metadata: ["cid": "\(op.pin.cid)", "error": "\(error)"])
        } else {
            pinsDone += 1
            if fromUnpinned { pinsPinned += 1 }
            viewChanged(op.pin.cid, pinned: op.kind == .pin && op.pin.maxDepth != 0)
            logger.debug("\(op.kind.rawValue) done", metadata: ["cid": "\(op.pin.cid)"])
        }
        pump()
    }

    /// Runs one operation against the daemon; nil on success, else what went wrong.
    private nonisolated func perform(_ op: TrackedOperation) async -> String? {
        do {
            switch op.kind {
            case .pin:
                // The pin's origins hold the content: connect to them first (as ipfs-cluster
                // does); one that does not answer is no reason not to try the pin.
                for origin in op.pin.options.origins {
                    do { try await connector.swarmConnect(origin.description) } catch {
                        logger.info("origin did not answer", metadata: ["cid": "\(op.pin.cid)", "origin": "\(origin)", "error": "\(error)"])
                    }
                }
                let depth = op.pin.maxDepth < 0 ? nil : op.pin.maxDepth
                try await connector.pin(op.pin.cid, maxDepth: depth, name: op.pin.name, inactivityTimeout: settings.pinTimeout) { _ in }
                if op.pin.type == .clusterDAG {
                    // The node is here now; the file's internal nodes are pinned directly too.
                    for node in try ClusterDAGNode(decoding: try await connector.blockGet(op.pin.cid)).internalNodes {
                        try await connector.pin(node, maxDepth: 0, name: op.pin.name, inactivityTimeout: settings.pinTimeout) { _ in }
                    }
                }
            case .unpin:
                // A removed pin's type is gone with it: a cluster DAG node is known by its content,
                // read only where it is pinned (kubo's block/get of a block it lacks would search
                // the network until the request times out).
                if op.pin.cid.codec == .dagCBOR, (try? await connector.pinStatus(op.pin.cid)) != nil,
                    let bytes = try? await connector.blockGet(op.pin.cid), let dag = try? ClusterDAGNode(decoding: bytes)
                {
                    for node in dag.internalNodes { try await unpinIfPinned(node) }
                }
                try await unpinIfPinned(op.pin.cid)
            }
            return nil
        } catch is CancellationError {
            return "cancelled"
        } catch {
            return "\(error)"
        }
    }

    private nonisolated func unpinIfPinned(_ cid: CID) async throws {
        do {
            try await connector.unpin(cid)
        } catch let e as IPFSConnectorError where e.code == .notPinned {
            // Nothing to undo.
        }
    }

    // MARK: status

    /// This peer's status of `cid`.
    public func status(_ cid: CID) async -> PinInfo {
        let pin = try? state.pin(cid)
        let op = instance.operation(cid)
        var pinned = false
        if op == nil, let pin, PinTrackerInstance.isAllocated(pin, to: me) {
            do {
                pinned = try await isPinnedInIPFS(cid)
            } catch {
                return info(cid, pin, status: .clusterError, error: "the IPFS daemon did not answer: \(error)")
            }
        }
        return info(cid, pin, op: op, pinnedInIPFS: pinned)
    }

    private func isPinnedInIPFS(_ cid: CID) async throws -> Bool {
        guard let p = try await connector.pinStatus(cid) else { return false }
        if case .indirect = p.type { return false }
        return true
    }

    /// The status of each of `cids` on this peer, in order, from the shared view of the
    /// daemon's recursive pins (``pinnedSet()``); direct pins are asked one by one.
    public func statuses(_ cids: [CID]) async -> [PinInfo] {
        let pinned: Set<[UInt8]>
        do {
            pinned = try await pinnedSet()
        } catch {
            return cids.map { cid in
                let pin = try? state.pin(cid)
                return info(cid, pin, status: .clusterError, error: "the IPFS daemon did not answer: \(error)")
            }
        }
        var out: [PinInfo] = []
        out.reserveCapacity(cids.count)
        for cid in cids {
            let pin = try? state.pin(cid)
            out.append(await status(cid, pin, pinned: pinned))
        }
        return out
    }

    /// One CID's status given the daemon's recursive pins.
    private func status(_ cid: CID, _ pin: Pin?, pinned: Set<[UInt8]>) async -> PinInfo {
        let op = instance.operation(cid)
        var isPinned = pinned.contains(cid.bytes)
        // Direct pins are not in the recursive listing: asked for one by one.
        if let pin, !isPinned, op == nil, pin.maxDepth == 0, PinTrackerInstance.isAllocated(pin, to: me) {
            isPinned = (try? await isPinnedInIPFS(cid)) ?? false
        }
        return info(cid, pin, op: op, pinnedInIPFS: isPinned)
    }

    /// The status of `cid` given its operation and whether the daemon pins it.
    private func info(_ cid: CID, _ pin: Pin?, op: TrackedOperation?, pinnedInIPFS: Bool) -> PinInfo {
        let status = PinTrackerInstance.status(pin: pin, me: me, operation: op, pinnedInIPFS: pinnedInIPFS)
        let error = status == .unexpectedlyUnpinned
            ? "allocated here but not pinned in the IPFS daemon; recover it with `pinmeshctl recover`" : op?.error ?? ""
        return info(cid, pin, status: status, error: error, op: op)
    }

    // MARK: the daemon's pins, shared

    /// How old the shared view of the daemon's recursive pins may be. This tracker's own pins
    /// and unpins are applied to it as they finish, so only changes made behind the cluster's
    /// back (`ipfs pin rm` by hand) take up to this long to show.
    static let pinnedViewAge: Duration = .seconds(2)

    /// The daemon's recursive pins (CID bytes), listed at most every ``pinnedViewAge`` and
    /// shared by every status reader: a thousand concurrent `GET /pins` streams cost one
    /// listing, not a thousand, and hold one set, not a thousand.
    func pinnedSet() async throws -> Set<[UInt8]> {
        if let view = pinnedView, ContinuousClock.now - pinnedViewAt < Self.pinnedViewAge { return view }
        if let refresh = pinnedRefresh { return try await refresh.value }
        let started = ContinuousClock.now
        let refresh = Task { try await self.pinnedInIPFS() }
        pinnedRefresh = refresh
        changedDuringRefresh = []
        defer { pinnedRefresh = nil }
        var view = try await refresh.value
        // Operations that finished while the listing ran may be missing from it.
        for (bytes, pinned) in changedDuringRefresh {
            if pinned { view.insert(bytes) } else { view.remove(bytes) }
        }
        pinnedView = view
        pinnedViewAt = started
        return view
    }

    /// Applies a finished operation to the shared view.
    private func viewChanged(_ cid: CID, pinned: Bool) {
        if pinned { pinnedView?.insert(cid.bytes) } else { pinnedView?.remove(cid.bytes) }
        if pinnedRefresh != nil { changedDuringRefresh.append((cid.bytes, pinned)) }
    }

    /// Every CID of the shared state (and every failed or running operation on a CID no
    /// longer in it), as this peer sees it, to `body` in key order. The daemon's recursive
    /// pins are read once into a set of CIDs; the state is streamed in pages, never held.
    ///
    /// Runs off the actor: a page of the state is read outside it and costs one hop onto it
    /// (its statuses computed at once), and `body` runs outside it. A thousand concurrent
    /// streams then queue a thousand short jobs on the actor, not a hundred each per page, and
    /// the pin operations the actor also serves are not stuck behind them.
    public nonisolated func statusAll(filter: Set<TrackerStatus>? = nil, _ body: @Sendable (PinInfo) async throws -> Void) async throws {
        let pinned = try await pinnedSet()
        var seen = Set<CID>()
        var after: CID?
        while true {
            let page = try state.pins(after: after, limit: ClusterPeer.streamPage)
            let (infos, busy) = await statuses(of: page, pinned: pinned)
            seen.formUnion(busy)
            for info in infos {
                if let filter, !filter.contains(info.short.status) { continue }
                try await body(info)
            }
            guard page.count == ClusterPeer.streamPage, let last = page.last else { break }
            after = last.cid
        }
        // Operations on CIDs the state no longer has (an unpin running or failed).
        for info in await orphanOperations(excluding: seen) {
            if let filter, !filter.contains(info.short.status) { continue }
            try await body(info)
        }
    }

    /// The statuses of one page of pins, and which of them have an operation.
    private func statuses(of pins: [Pin], pinned: Set<[UInt8]>) async -> ([PinInfo], Set<CID>) {
        var busy = Set<CID>()
        var out: [PinInfo] = []
        out.reserveCapacity(pins.count)
        for pin in pins {
            if instance.operation(pin.cid) != nil { busy.insert(pin.cid) }
            out.append(await status(pin.cid, pin, pinned: pinned))
        }
        return (out, busy)
    }

    private func orphanOperations(excluding seen: Set<CID>) -> [PinInfo] {
        var out: [PinInfo] = []
        for op in instance.all where !seen.contains(op.pin.cid) {
            guard (try? state.pin(op.pin.cid)) == nil else { continue }
            let status = PinTrackerInstance.status(pin: nil, me: me, operation: op, pinnedInIPFS: false)
            out.append(info(op.pin.cid, nil, status: status, error: op.error, op: op))
        }
        return out
    }

    /// The daemon's recursive pins, listed now.
    private nonisolated func pinnedInIPFS() async throws -> Set<[UInt8]> {
        let box = CIDSet()
        try await connector.forEachPin(recursiveOnly: true) { p in box.insert(p.cid.bytes) }
        return box.take()
    }

    private func info(_ cid: CID, _ pin: Pin?, status: TrackerStatus, error: String, op: TrackedOperation? = nil) -> PinInfo {
        let short = PinInfoShort(
            peername: peername, status: status, timestamp: op?.updated ?? .now(), error: error, attemptCount: op?.attempts ?? 0,
            priorityPin: op?.priority ?? false, ipfsPeerID: ipfsID, ipfsPeerAddresses: ipfsAddresses.isEmpty ? nil : ipfsAddresses)
        return PinInfo(cid: cid, pin: pin, peer: me, short: short)
    }

    // MARK: recover

    /// Retries a failed operation on `cid`, or re-pins a CID allocated here that the daemon
    /// lost; returns the status after queuing.
    public func recover(_ cid: CID) async throws -> PinInfo {
        if try instance.retry(cid, now: .now()) {
            pump()
        } else if let pin = try state.pin(cid), PinTrackerInstance.isAllocated(pin, to: me), pin.type != .meta,
            !(try await isPinnedInIPFS(cid))
        {
            enqueue(.pin, pin)
            pump()
        }
        return await status(cid)
    }

    /// Retries the failed operations whose backoff has passed (each `pin_recover_interval`
    /// round); returns how many were queued.
    @discardableResult
    public func retryFailed(interval: Duration) -> Int {
        let n = instance.retryDue(now: .now(), intervalMillis: interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000)
        if n > 0 {
            logger.info("retrying failed operations", metadata: ["count": "\(n)"])
            pump()
        }
        return n
    }

    /// Recovers every CID in error here (failed operations and pins the daemon lost).
    public func recoverAll() async throws -> Int {
        var n = 0
        for cid in instance.failed where try instance.retry(cid, now: .now()) { n += 1 }
        let before = instance.queuedCount
        try await reconcile()
        n += instance.queuedCount - before
        pump()
        return n
    }
}

/// Collects CIDs from a `@Sendable` callback.
final class CIDSet: @unchecked Sendable {
    private var set = Set<[UInt8]>()
    private let lock = NSLock()
    func insert(_ b: [UInt8]) { lock.withLock { _ = set.insert(b) } }
    func take() -> Set<[UInt8]> { lock.withLock { set } }
}
