import ClusterModel
import Datastore
import Foundation
public import Logging
import Multiformats
public import Node

/// The IPFS Pinning Service API v1.0.0 over a ``ClusterPeer`` (`Specs/pinning-service.md`).
///
/// - Requests live in the pinset, in reserved metadata of their CID's pin (``PSARequest``), so
///   every peer answers the same and a restart loses none.
/// - Listing reads ``PSAIndex``: built once from the pinset on first use, then kept current
///   per changed CID from the pinset's change stream (and at once after this peer's own writes).
/// - Writes to one CID are serialised on this peer (its requests are one pin's metadata).
/// - Statuses come from the cluster's status of the CID, cached for ``Settings/statusTTL``
///   and dropped when the CID's pin changes.
public actor PinningService {
    public struct Settings: Sendable {
        /// How long a computed status is reused.
        public var statusTTL: Duration = .seconds(1)
        /// How many CIDs' statuses are asked at once when a listing needs many.
        public var statusConcurrency = 16
        /// Above this many statuses to ask, one pass over the cluster's status stream (every
        /// pin, batched) is cheaper than one fan-out per CID.
        public var bulkStatusAbove = 256
        public init() {}
    }

    public let peer: ClusterPeer
    public let settings: Settings
    let logger: Logger
    var index = PSAIndex()
    var created: PSACreated
    var rng = SystemRandomNumberGenerator()
    private var loading: Task<Void, Never>?
    var busy: [CID: [CheckedContinuation<Void, Never>]] = [:]
    var statusCache: [CID: CachedStatus] = [:]
    /// The peer's pinset database, read without a hop onto the peer's actor.
    var database: PinsetDatabase?
    /// The peers' ping values, reused for ``Settings/statusTTL``.
    var pingCache: (values: [PeerID: PingValue], at: ContinuousClock.Instant)?
    /// CIDs re-indexed while the first scan runs (nil when no scan runs): they win over the scan.
    private var touchedDuringLoad: Set<CID>?

    struct CachedStatus {
        let status: PSAStatus
        let details: String
        let delegates: [String]
        let at: ContinuousClock.Instant
    }

    public init(peer: ClusterPeer, settings: Settings = Settings(), logger: Logger = Logger(label: "pinmesh.pinsvcapi")) {
        self.peer = peer
        self.settings = settings
        self.logger = logger
        created = PSACreated(peerBytes: peer.me.bytes)
    }

    /// Builds the index (once): subscribes to the pinset's changes, then reads every pin.
    public func load() async {
        if let loading { return await loading.value }
        let task = Task { await self.build() }
        loading = task
        await task.value
    }

    private func build() async {
        database = await peer.database
        touchedDuringLoad = []
        let changes = await peer.pinset.changes()
        Task { [weak self] in
            for await keys in changes {
                guard let self else { return }
                await self.reindex(keys)
            }
        }
        var found = PSAIndex()
        var broken = 0
        do {
            try await peer.forEachPin { pin in
                guard pin.options.metadata.keys.contains(where: { $0.hasPrefix(PSARequest.keyPrefix) }) else { return }
                let (requests, bad) = PSARequest.decodeAll(pin.options.metadata, cid: pin.cid)
                broken += bad.count
                found.replace(pin.cid, with: requests)
            }
        } catch {
            logger.error("cannot read the pinset to index pin requests", metadata: ["error": "\(error)"])
        }
        if broken > 0 { logger.warning("pin requests whose records do not decode are left out", metadata: ["count": "\(broken)"]) }
        for cid in touchedDuringLoad ?? [] { found.replace(cid, with: index.requests(of: cid)) }
        touchedDuringLoad = nil
        index = found
        logger.info("pin requests indexed", metadata: ["requests": "\(index.count)"])
    }

    /// Re-reads the pins of `cids` into the index and forgets their cached statuses.
    func reindex(_ cids: [CID]) async {
        let database = await db()
        for cid in cids { indexPin(try? database.pin(cid), of: cid) }
    }

    /// Makes `pin` (nil: none) what the index holds for `cid`.
    func indexPin(_ pin: Pin?, of cid: CID) {
        touchedDuringLoad?.insert(cid)
        statusCache[cid] = nil
        index.replace(cid, with: pin.map { PSARequest.decodeAll($0.options.metadata, cid: cid).requests } ?? [])
    }

    func db() async -> PinsetDatabase {
        if let database { return database }
        let d = await peer.database
        database = d
        return d
    }

    /// Each live peer's `ping` value, at most ``Settings/statusTTL`` old.
    func pings() async -> [PeerID: PingValue] {
        if let c = pingCache, ContinuousClock.now - c.at < settings.statusTTL { return c.values }
        let values = await Self.pings(peer)
        pingCache = (values, .now)
        return values
    }

    /// How many requests the index holds.
    public var requestCount: Int {
        get async {
            await load()
            return index.count
        }
    }

    // MARK: reads

    /// `GET /pins/{requestid}`.
    public func get(_ id: String) async throws(PSAError) -> PSAJSON.PinStatus {
        await load()
        guard let r = index.request(id) else { throw Self.unknown(id) }
        let s = await statuses(of: [r.cid])
        return Self.json(r, s[r.cid])
    }

    /// `GET /pins`: the page `q` selects and the count of every match.
    public func list(_ q: PSAQuery) async -> PSAJSON.PinResults {
        await load()
        let candidates = index.candidates(q)
        if q.statuses.count == PSAStatus.allCases.count {
            let page = Array(candidates.prefix(q.limit))
            let s = await statuses(of: page.map(\.cid))
            return PSAJSON.PinResults(count: candidates.count, results: page.map { Self.json($0, s[$0.cid]) })
        }
        let s = await statuses(of: candidates.map(\.cid))
        let matching = candidates.filter { r in s[r.cid].map { q.statuses.contains($0.status) } ?? false }
        return PSAJSON.PinResults(count: matching.count, results: matching.prefix(q.limit).map { Self.json($0, s[$0.cid]) })
    }

    static func unknown(_ id: String) -> PSAError {
        PSAError.notFound("no pin request has the id \(String(id.prefix(64)).debugDescription): it was deleted or never made; list them with GET /pins")
    }

    /// `s`: the CID's status (``statuses(of:)`` answers every CID it is asked).
    static func json(_ r: PSARequest, _ s: CachedStatus?) -> PSAJSON.PinStatus {
        PSAJSON.PinStatus(
            requestid: r.requestID, status: s?.status ?? .queued, created: PSACreated.format(r.created),
            pin: PSAJSON.Pin(cid: r.cid.description, name: r.name.isEmpty ? nil : r.name, origins: r.origins, meta: r.meta),
            delegates: s?.delegates ?? [], info: ["status_details": s?.details ?? "status not known yet"])
    }

    // MARK: per-CID serialisation

    func lock(_ cid: CID) async {
        if busy[cid] == nil {
            busy[cid] = []
            return
        }
        await withCheckedContinuation { busy[cid]!.append($0) }
    }

    func unlock(_ cid: CID) {
        guard var waiting = busy[cid], !waiting.isEmpty else {
            busy[cid] = nil
            return
        }
        let next = waiting.removeFirst()
        busy[cid] = waiting
        next.resume()
    }
}
