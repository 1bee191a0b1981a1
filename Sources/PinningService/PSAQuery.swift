import Foundation
public import Multiformats

/// The filters and page of `GET /pins` (the spec's query parameters), validated.
///
/// - `cid`: 1–10 CIDs, comma-separated; `name` (at most 255 characters) with `match`
///   (`exact` by default, `iexact`, `partial`, `ipartial`); `status`: 1–4 of `queued`,
///   `pinning`, `pinned`, `failed` (default `pinned`); `before`/`after`: RFC 3339 times,
///   exclusive; `limit`: 1–1000 (default 10); `meta`: a JSON object of strings, every key of
///   which must match exactly.
public struct PSAQuery: Sendable, Equatable {
    public enum Match: String, Sendable, CaseIterable { case exact, iexact, partial, ipartial }

    public var cids: [CID] = []
    public var name: String?
    public var match = Match.exact
    public var statuses: Set<PSAStatus> = [.pinned]
    public var before: Int64?
    public var after: Int64?
    public var limit = 10
    public var meta: [String: String] = [:]

    public static let maxCIDs = 10
    public static let maxLimit = 1000

    public init() {}

    /// Parses the query's parameters (`get` returns a parameter's raw value).
    public init(_ get: (String) -> String?) throws(PSAError) {
        if let text = get("cid") {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            guard !parts.isEmpty, parts.count <= Self.maxCIDs else {
                throw PSAError.badRequest("cid lists \(parts.count) CIDs; give 1 to \(Self.maxCIDs), comma-separated")
            }
            for p in parts {
                guard let cid = try? CID(String(p)) else { throw PSAError.badRequest("cid \(String(p.prefix(100)).debugDescription) is not a CID") }
                cids.append(cid)
            }
        }
        if let n = get("name") {
            guard n.count <= PSARequest.maxNameCharacters else {
                throw PSAError.badRequest("name is \(n.count) characters long; at most \(PSARequest.maxNameCharacters)")
            }
            name = n
        }
        if let m = get("match") {
            guard let mm = Match(rawValue: m) else { throw PSAError.badRequest("match \(m.debugDescription) is not one of exact, iexact, partial, ipartial") }
            match = mm
        }
        if let s = get("status") {
            var set = Set<PSAStatus>()
            for w in s.split(separator: ",", omittingEmptySubsequences: false) {
                guard let st = PSAStatus(rawValue: String(w)) else {
                    throw PSAError.badRequest("status \(String(w.prefix(40)).debugDescription) is not one of queued, pinning, pinned, failed")
                }
                set.insert(st)
            }
            statuses = set
        }
        for (key, slot) in [("before", \PSAQuery.before), ("after", \PSAQuery.after)] {
            guard let t = get(key) else { continue }
            guard let nanos = PSACreated.parse(t) else {
                throw PSAError.badRequest("\(key) \(String(t.prefix(60)).debugDescription) is not an RFC 3339 time like 2020-07-27T17:32:28.276Z")
            }
            self[keyPath: slot] = nanos
        }
        if let l = get("limit") {
            guard let n = Int(l), n >= 1, n <= Self.maxLimit else { throw PSAError.badRequest("limit \(String(l.prefix(40)).debugDescription) is not a number from 1 to \(Self.maxLimit)") }
            limit = n
        }
        if let m = get("meta") {
            guard let object = try? JSONDecoder().decode([String: String].self, from: Data(m.utf8)) else {
                throw PSAError.badRequest("meta is not a JSON object of strings, like {\"app_id\":\"99986338\"} (URL-encoded)")
            }
            meta = object
        }
    }

    /// Whether `r` passes the name and meta filters.
    public func matches(_ r: PSARequest) -> Bool {
        if let name {
            switch match {
            case .exact: if r.name != name { return false }
            case .iexact: if r.name.lowercased() != name.lowercased() { return false }
            case .partial: if !name.isEmpty, !r.name.contains(name) { return false }
            case .ipartial: if !name.isEmpty, !r.name.lowercased().contains(name.lowercased()) { return false }
            }
        }
        for (k, v) in meta where r.meta[k] != v { return false }
        return true
    }

    /// Whether `r` was created inside `before`/`after`.
    public func matchesTimes(_ r: PSARequest) -> Bool {
        if let before, r.created >= before { return false }
        if let after, r.created <= after { return false }
        return true
    }
}
