import ClusterModel
import Datastore
import Foundation
import Multiformats
import NIOConcurrencyHelpers
import Node

extension PinningService {
    /// The status of each of `cids` (every one answered): cached ones younger than
    /// ``Settings/statusTTL``, the rest asked of the cluster, at most
    /// ``Settings/statusConcurrency`` at once.
    func statuses(of cids: [CID]) async -> [CID: CachedStatus] {
        let now = ContinuousClock.now
        var out: [CID: CachedStatus] = [:]
        var missing: [CID] = []
        for cid in Set(cids) {
            if let c = statusCache[cid], now - c.at < settings.statusTTL { out[cid] = c } else { missing.append(cid) }
        }
        guard !missing.isEmpty else { return out }
        let pings = await pings()
        let me = peer.me
        let peer = self.peer
        let database = await db()
        if missing.count > settings.bulkStatusAbove {
            for (cid, s) in await Self.bulk(peer, database, Set(missing), pings: pings, me: me) {
                statusCache[cid] = s
                out[cid] = s
            }
            return out
        }
        let limit = max(1, settings.statusConcurrency)
        let computed = await withTaskGroup(of: (CID, CachedStatus).self) { group in
            var results: [(CID, CachedStatus)] = []
            var next = missing.sorted(by: { $0.description < $1.description })[...]
            for _ in 0..<min(limit, next.count) {
                let cid = next.removeFirst()
                group.addTask { (cid, await Self.compute(peer, database, cid, pings: pings, me: me)) }
            }
            while let r = await group.next() {
                results.append(r)
                if let cid = next.popFirst() { group.addTask { (cid, await Self.compute(peer, database, cid, pings: pings, me: me)) } }
            }
            return results
        }
        for (cid, s) in computed {
            statusCache[cid] = s
            out[cid] = s
        }
        if statusCache.count > 100_000 { statusCache = statusCache.filter { now - $0.value.at < settings.statusTTL } }
        return out
    }

    /// Statuses of many CIDs in one pass over the cluster's status stream (batched RPCs, a
    /// hundred CIDs per round trip to each peer) instead of one fan-out per CID; every one of
    /// `cids` is answered (those the stream did not name: `queued`).
    static func bulk(_ peer: ClusterPeer, _ database: PinsetDatabase, _ cids: Set<CID>, pings: [PeerID: PingValue], me: PeerID) async -> [CID: CachedStatus] {
        let found = NIOLockedValueBox<[CID: CachedStatus]>([:])
        try? await peer.statusAll(local: false) { g in
            guard cids.contains(g.cid), let pin = try? database.pin(g.cid) else { return }
            let (status, details) = PSAStatus.of(pin, g)
            let s = CachedStatus(status: status, details: details, delegates: delegates(pin, g, pings: pings, me: me), at: .now)
            found.withLockedValue { $0[g.cid] = s }
        }
        var out = found.withLockedValue { $0 }
        for cid in cids where out[cid] == nil {
            out[cid] = CachedStatus(status: .queued, details: "not in the pinset yet", delegates: delegates(nil, nil, pings: pings, me: me), at: .now)
        }
        return out
    }

    /// Each live peer's `ping` value (its IPFS daemon's ID and addresses).
    static func pings(_ peer: ClusterPeer) async -> [PeerID: PingValue] {
        var out: [PeerID: PingValue] = [:]
        for m in await peer.monitor.metrics("ping") {
            if let v = try? JSONDecoder().decode(PingValue.self, from: Data(m.value.utf8)) { out[m.peer] = v }
        }
        return out
    }

    static func compute(_ peer: ClusterPeer, _ database: PinsetDatabase, _ cid: CID, pings: [PeerID: PingValue], me: PeerID) async -> CachedStatus {
        guard let pin = try? database.pin(cid) else {
            return CachedStatus(status: .queued, details: "not in the pinset yet", delegates: delegates(nil, nil, pings: pings, me: me), at: .now)
        }
        let info = await peer.status(cid)
        let (status, details) = PSAStatus.of(pin, info)
        return CachedStatus(status: status, details: details, delegates: delegates(pin, info, pings: pings, me: me), at: .now)
    }

    /// The IPFS multiaddrs (each ending in `/p2p/<IPFS peer ID>`) of the peers that hold or
    /// fetch `pin`: its allocations, or every live peer for a pin everywhere; from their pings,
    /// else from their status answers; 1 to 20 of them. With none known, this peer's IPFS
    /// ID alone (`/p2p/…`), or its cluster ID if its IPFS ID is not known either.
    static func delegates(_ pin: Pin?, _ info: GlobalPinInfo?, pings: [PeerID: PingValue], me: PeerID) -> [String] {
        let holders: [PeerID] = (pin?.allocations.isEmpty ?? true) ? pings.keys.sorted() : pin!.allocations
        var out: [String] = []
        var ids: [String] = []
        for p in holders {
            let ping = pings[p]
            let short = info?.peerMap[p.description]
            guard let id = ping?.ipfsID ?? short?.ipfsPeerID else { continue }
            ids.append("/p2p/\(id)")
            for a in ping?.ipfsAddresses ?? short?.ipfsPeerAddresses ?? [] {
                let full = a.contains("/p2p/") ? a : a + "/p2p/\(id)"
                if !out.contains(full), (try? Multiaddr(full)) != nil { out.append(full) }
            }
        }
        if out.isEmpty { out = ids }
        if out.isEmpty, let mine = pings[me]?.ipfsID { out = ["/p2p/\(mine)"] }
        if out.isEmpty { out = ["/p2p/\(me)"] }
        var seen = Set<String>()
        return Array(out.filter { seen.insert($0).inserted }.prefix(20))
    }
}
