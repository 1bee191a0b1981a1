import ClusterModel
public import Multiformats

/// Every pin request of the pinset, in memory, sorted newest first, with lookups by request
/// id and by CID. Rebuilt per CID from that CID's pin (``replace(_:with:)``); never from the
/// whole state except once at start.
public struct PSAIndex: Sendable {
    /// Newest first (``PSARequest/newestFirst(_:_:)``).
    public private(set) var sorted: [PSARequest] = []
    private var byID: [String: PSARequest] = [:]
    private var byCID: [CID: [String]] = [:]

    public init() {}

    public var count: Int { sorted.count }

    public func request(_ id: String) -> PSARequest? { byID[id] }

    public func requests(of cid: CID) -> [PSARequest] { (byCID[cid] ?? []).compactMap { byID[$0] } }

    /// Makes `requests` the requests of `cid` (an empty list: the CID has none).
    public mutating func replace(_ cid: CID, with requests: [PSARequest]) {
        for id in byCID[cid] ?? [] {
            guard let old = byID.removeValue(forKey: id) else { continue }
            if let i = position(of: old) { sorted.remove(at: i) }
        }
        byCID[cid] = nil
        guard !requests.isEmpty else { return }
        byCID[cid] = requests.map(\.requestID)
        for r in requests {
            // A request id found under two CIDs (a forged or corrupt record): the later wins.
            if let other = byID[r.requestID], other.cid != cid {
                byCID[other.cid]?.removeAll { $0 == r.requestID }
                if let i = position(of: other) { sorted.remove(at: i) }
            }
            byID[r.requestID] = r
            sorted.insert(r, at: insertionPoint(r))
        }
    }

    /// The first position whose request is not newer than `r`.
    private func insertionPoint(_ r: PSARequest) -> Int {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if PSARequest.newestFirst(sorted[mid], r) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private func position(of r: PSARequest) -> Int? {
        let i = insertionPoint(r)
        return i < sorted.count && sorted[i].requestID == r.requestID ? i : nil
    }

    /// The position of the first request created before `nanos` (newest first).
    public func firstIndex(createdBefore nanos: Int64) -> Int {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid].created >= nanos { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The requests that pass `query`'s filters other than status, newest first: from the
    /// CID lists when `cid` is given, otherwise the slice of the sorted list that `before`
    /// and `after` bound.
    public func candidates(_ q: PSAQuery) -> [PSARequest] {
        if !q.cids.isEmpty {
            var out: [PSARequest] = []
            for cid in Set(q.cids) { out += requests(of: cid).filter { q.matchesTimes($0) && q.matches($0) } }
            return out.sorted(by: PSARequest.newestFirst)
        }
        let start = q.before.map { firstIndex(createdBefore: $0) } ?? 0
        var out: [PSARequest] = []
        for r in sorted[start...] {
            if let after = q.after, r.created <= after { break }
            if q.matches(r) { out.append(r) }
        }
        return out
    }
}
