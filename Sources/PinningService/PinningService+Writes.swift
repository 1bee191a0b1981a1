import Allocator
import ClusterModel
import Foundation
public import Multiformats
import Node
import Pinset

extension PinningService {
    /// A validated `Pin` object of a request body.
    public struct NewRequest: Sendable {
        public var cid: CID
        public var name: String
        public var origins: [Multiaddr]
        public var meta: [String: String]

        /// Checks the spec's limits: a CID, a name of at most 255 characters, at most 20
        /// origins that are multiaddrs (duplicates dropped), `meta` of strings.
        public init(_ pin: PSAJSON.Pin) throws(PSAError) {
            guard let cid = try? CID(pin.cid) else {
                throw PSAError.badRequest("cid \(String(pin.cid.prefix(100)).debugDescription) is not a CID (like bafy… or Qm…)")
            }
            self.cid = cid
            name = pin.name ?? ""
            guard name.count <= PSARequest.maxNameCharacters else {
                throw PSAError.badRequest("name is \(name.count) characters long; at most \(PSARequest.maxNameCharacters)")
            }
            var seen = Set<String>()
            let texts = (pin.origins ?? []).filter { seen.insert($0).inserted }
            guard texts.count <= PSARequest.maxOrigins else {
                throw PSAError.badRequest("origins lists \(texts.count) addresses; at most \(PSARequest.maxOrigins)")
            }
            origins = []
            for t in texts {
                guard let a = try? Multiaddr(t) else {
                    throw PSAError.badRequest("origin \(String(t.prefix(100)).debugDescription) is not a multiaddr like /ip4/203.0.113.1/tcp/4001/p2p/12D3KooW…")
                }
                origins.append(a)
            }
            meta = pin.meta ?? [:]
        }
    }

    /// `POST /pins`: a new request for `new.cid`; the pin is made, or the CID's pin gains
    /// the request.
    public func create(_ new: NewRequest) async throws(PSAError) -> PSAJSON.PinStatus {
        await load()
        let (r, made) = try await add(new, pinUpdate: nil)
        return try await status(of: r, new: made)
    }

    /// `POST /pins/{requestid}`: a new request replaces request `id` (the new one made first,
    /// so blocks both share stay pinned; for another CID, the new pin is allocated where the old is).
    public func replace(_ id: String, with new: NewRequest) async throws(PSAError) -> PSAJSON.PinStatus {
        await load()
        guard let old = index.request(id) else { throw Self.unknown(id) }
        let r: PSARequest
        if old.cid == new.cid {
            r = try await add(new, pinUpdate: nil, removing: id).request
        } else {
            let fresh = (try? await db().pin(new.cid)) == nil
            r = try await add(new, pinUpdate: fresh ? old.cid : nil).request
            do {
                try await remove(id)
            } catch where error.code == .notFound {
                // Deleted meanwhile: what the replace had to do is done.
            }
        }
        return try await status(of: r)
    }

    /// `DELETE /pins/{requestid}`: the request goes; the CID is unpinned when no request for it
    /// remains (unless it was pinned before its first request).
    public func delete(_ id: String) async throws(PSAError) {
        await load()
        try await remove(id)
    }

    /// The status of a request just made. A pin that `new` made was committed this instant:
    /// it is `queued` (nothing asked of the cluster, so a create costs a pin, not a pin and a
    /// status fan-out); a request on an existing pin gets that pin's status, asked afresh.
    private func status(of r: PSARequest, new: Pin? = nil) async throws(PSAError) -> PSAJSON.PinStatus {
        statusCache[r.cid] = nil
        if let new {
            let pings = await pings()
            let s = CachedStatus(
                status: .queued, details: "queued: allocated to \(new.allocations.isEmpty ? "every peer" : "\(new.allocations.count) peers")",
                delegates: Self.delegates(new, nil, pings: pings, me: peer.me), at: .now)
            return Self.json(r, s)
        }
        let s = await statuses(of: [r.cid])
        return Self.json(r, s[r.cid])
    }

    /// Commits request `new` (and removes request `old` of the same CID); returns it, and the
    /// pin when this made the CID's pin (it was not pinned before).
    private func add(_ new: NewRequest, pinUpdate: CID?, removing old: String? = nil) async throws(PSAError) -> (request: PSARequest, made: Pin?) {
        let r = PSARequest(
            requestID: PSARequest.newID(using: &rng), cid: new.cid, created: created.next(nowNanos: Self.nowNanos()), name: new.name,
            meta: new.meta, origins: new.origins.map(\.description))
        let entries = r.entries()
        guard entries.count <= PSARequest.maxChunks else {
            throw PSAError(
                .requestTooLarge, status: 400,
                "the request's name, meta and origins take \(entries.values.reduce(0) { $0 + $1.utf8.count }) bytes stored; at most \(PSARequest.maxChunks * PSARequest.chunkBytes) fit: shorten meta")
        }
        let (pin, existed) = try await edit(new.cid) { (options: inout PinOptions, existed: Bool) throws(PSAError) -> Bool in
            // Requests before this edit (the replaced one included): with none, the pin is the REST API's.
            let hasRequests = options.metadata.keys.contains { $0.hasPrefix(PSARequest.keyPrefix) }
            if let old {
                options.metadata = options.metadata.filter { !Self.belongs($0.key, to: old) }
            }
            if existed, !hasRequests, options.metadata[PSARequest.keptKey] == nil { options.metadata[PSARequest.keptKey] = "kept" }
            if !existed { options.name = new.name }
            options.metadata.merge(entries) { _, b in b }
            guard options.metadata.count <= PinCodec.maxMetadataEntries else {
                throw PSAError(
                    .tooManyRequests, status: 409,
                    "the pin of \(new.cid) holds as many requests as it can store (\(PinCodec.maxMetadataEntries) metadata entries): delete some of its requests first")
            }
            var seen = Set<Multiaddr>()
            options.origins = Array((new.origins + options.origins).filter { seen.insert($0).inserted }.prefix(PinCodec.maxOrigins))
            if let pinUpdate { options.pinUpdate = pinUpdate }
            return true
        }
        return (r, existed ? nil : pin)
    }

    private func remove(_ id: String) async throws(PSAError) {
        guard let r = index.request(id) else { throw Self.unknown(id) }
        try await edit(r.cid) { (options: inout PinOptions, existed: Bool) throws(PSAError) -> Bool in
            guard existed, options.metadata.keys.contains(where: { Self.belongs($0, to: id) }) else { throw Self.unknown(id) }
            options.metadata = options.metadata.filter { !Self.belongs($0.key, to: id) }
            guard !options.metadata.keys.contains(where: { $0.hasPrefix(PSARequest.keyPrefix) }) else { return true }
            // The last request: unpin, unless the pin was there before the requests.
            guard options.metadata.removeValue(forKey: PSARequest.keptKey) != nil else { return false }
            return true
        }
    }

    static func belongs(_ key: String, to id: String) -> Bool {
        key == PSARequest.keyPrefix + id || key.hasPrefix(PSARequest.keyPrefix + id + "#")
    }

    /// Changes the options of `cid`'s pin under its lock: `change` edits them (`existed`: the
    /// pin was there) and says whether the pin stays (true: pinned with the new options) or
    /// goes (false: unpinned). The index is updated before it returns.
    /// Returns the pin committed (nil when unpinned) and whether the CID was pinned before.
    @discardableResult
    private func edit(_ cid: CID, _ change: (inout PinOptions, Bool) throws(PSAError) -> Bool) async throws(PSAError) -> (Pin?, Bool) {
        await lock(cid)
        let result: (Pin?, Bool)
        do {
            result = try await editLocked(cid, change)
        } catch {
            await reindex([cid])
            unlock(cid)
            throw error
        }
        indexPin(result.0, of: cid)
        unlock(cid)
        return result
    }

    private func editLocked(_ cid: CID, _ change: (inout PinOptions, Bool) throws(PSAError) -> Bool) async throws(PSAError) -> (Pin?, Bool) {
        let existing: Pin?
        do {
            existing = try await db().pin(cid)
        } catch {
            throw PSAError(.internalError, status: 500, "cannot read the pinset: \(error)")
        }
        var options = existing?.options ?? PinOptions()
        guard existing == nil || existing?.type == .data else {
            throw PSAError.badRequest("\(cid) is part of a sharded add in this cluster; pin requests can name only whole pins")
        }
        let keep = try change(&options, existing != nil)
        do {
            if keep { return (try await peer.pin(cid, options: options, replacingReserved: true), existing != nil) }
            if existing != nil { try await peer.unpin(cid) }
            return (nil, existing != nil)
        } catch {
            throw Self.translate(error)
        }
    }

    /// The spec's error for a failed cluster write.
    static func translate(_ error: any Error) -> PSAError {
        switch error {
        case let e as PSAError: return e
        case let e as ClusterError:
            switch e.kind {
            case .badRequest: return .badRequest(e.message)
            case .notFound: return .notFound(e.message)
            case .unavailable: return PSAError(.unavailable, status: 503, e.message)
            }
        case let e as AllocationError:
            return PSAError(.insufficientFunds, status: 409, "the cluster cannot hold this pin now: \(e.message)")
        case let e as PinsetError where e.code == .untrusted:
            return PSAError(.forbidden, status: 403, e.message)
        case let e as PinsetError where e.code == .queueFull:
            return PSAError(.unavailable, status: 503, e.message)
        default:
            return PSAError(.internalError, status: 500, "the cluster could not write the pin: \(error)")
        }
    }

    static func nowNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
