import ClusterModel
import Foundation
import Multiformats
import Pinset
import Testing

@testable import PinningService

/// The request record in a pin's metadata, creation times, the index and the query parser.
@Suite struct PSARecordTests {
    static let cid = try! CID("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")

    static func request(_ n: Int, name: String = "", meta: [String: String] = [:], origins: [String] = []) -> PSARequest {
        var rng = SplitMix64(seed: UInt64(n))
        return PSARequest(requestID: PSARequest.newID(using: &rng), cid: cid, created: 1_700_000_000_000_000_000 + Int64(n) * 1000, name: name, meta: meta, origins: origins)
    }

    @Test("a request survives its metadata entries, one entry when small")
    func roundTrip() {
        let r = Self.request(1, name: "PreciousData.pdf", meta: ["app_id": "99986338", "é": "ü"], origins: ["/ip4/203.0.113.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"])
        let entries = r.entries()
        #expect(entries.count == 1 && entries.keys.first == "psa:\(r.requestID)")
        let (back, broken) = PSARequest.decodeAll(entries.merging(["owner": "ops"]) { a, _ in a }, cid: Self.cid)
        #expect(back == [r] && broken.isEmpty)
    }

    @Test("a record that takes eight metadata values is stored, and is cut only between UTF-8 characters")
    func chunksAtTheLimit() {
        // Multi-byte characters so that cuts fall inside them unless backed up.
        let big = String(repeating: "é€", count: 1_500)
        let r = Self.request(2, name: "n", meta: ["k": big])
        let entries = r.entries()
        #expect(entries.count == PSARequest.maxChunks)
        #expect(entries.values.allSatisfy { $0.utf8.count <= PSARequest.chunkBytes })
        #expect(PSARequest.decodeAll(entries, cid: Self.cid).requests == [r])
        // One value more is over the limit: its writer refuses it, and a stored one is broken.
        let over = Self.request(3, meta: ["k": big + String(repeating: "x", count: 1_100)])
        let overEntries = over.entries()
        #expect(overEntries.count == PSARequest.maxChunks + 1)
        let (decoded, broken) = PSARequest.decodeAll(overEntries, cid: Self.cid)
        #expect(decoded.isEmpty && broken == [over.requestID])
    }

    @Test("a truncated, missing or foreign record is left out by id and never hides the others")
    func malformedRecords() {
        let good = Self.request(4, name: "good")
        let bad = Self.request(5, name: String(repeating: "b", count: 200), meta: ["m": String(repeating: "v", count: 1_500)])
        var entries = bad.entries()
        #expect(entries.count == 2)
        let first = entries["psa:\(bad.requestID)"]!
        // Every prefix of the first chunk.
        for n in 0..<first.utf8.count {
            entries["psa:\(bad.requestID)"] = String(decoding: Array(first.utf8).prefix(n), as: UTF8.self)
            let (rs, broken) = PSARequest.decodeAll(entries.merging(good.entries()) { a, _ in a }, cid: Self.cid)
            #expect(rs == [good] && broken == [bad.requestID], "prefix \(n)")
        }
        // A missing continuation, a bad chunk number, a bad id, JSON of the wrong shape, a zero time.
        let cases: [[String: String]] = [
            ["psa:\(bad.requestID)": first],
            ["psa:\(bad.requestID)": first, "psa:\(bad.requestID)#2": "x"],
            ["psa:\(bad.requestID)": first, "psa:\(bad.requestID)#01": "x"],
            ["psa:\(bad.requestID)": first, "psa:\(bad.requestID)#x": "x"],
            ["psa:NOTANID": #"{"t":1}"#],
            ["psa:\(good.requestID)": #"{"t":"1"}"#],
            ["psa:\(good.requestID)": #"{"t":0}"#],
            ["psa:\(good.requestID)": #"{"n":"","t":5}"#],
            ["psa:\(good.requestID)": #"[1,2]"#],
        ]
        for c in cases {
            let (rs, broken) = PSARequest.decodeAll(c, cid: Self.cid)
            #expect(rs.isEmpty && broken.count == 1, "\(c)")
        }
    }

    @Test("creation times are unique per peer, carry the peer's tag and print with nanoseconds")
    func createdTimes() {
        var c = PSACreated(peerBytes: Array("peer".utf8))
        let a = c.next(nowNanos: 1_764_783_601_123_456_789)
        let b = c.next(nowNanos: 1_764_783_601_123_456_789)
        let earlier = c.next(nowNanos: 1_000)
        #expect(a < b && b < earlier && a % 1000 == c.tag && b - a == 1000)
        #expect(PSACreated.format(a) == "2025-12-03T17:40:01.123456\(String(format: "%03d", Int(c.tag)))Z")
        #expect(PSACreated.parse(PSACreated.format(a)) == a)
        #expect(PSACreated.parse("2020-07-27T17:32:28.276Z") == 1_595_871_148_276_000_000)
        #expect(PSACreated.parse("2020-07-27T19:32:28+02:00") == 1_595_871_148_000_000_000)
        #expect(PSACreated.parse("2020-07-27T17:32:28.1234567891Z") == 1_595_871_148_123_456_789)
        for bad in ["", "yesterday", "2020-07-27", "2020-07-27T17:32:28.Z", "2020-13-27T17:32:28Z", "2020-07-27T17:32:28.276"] {
            #expect(PSACreated.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("the index keeps requests newest first across replacements, and before/after bound a walk")
    func index() throws {
        var index = PSAIndex()
        let other = try CID("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
        let rs = (0..<10).map { Self.request($0, name: "r\($0)") }
        index.replace(Self.cid, with: Array(rs[0..<5]))
        index.replace(other, with: rs[5..<10].map { var r = $0; r.cid = other; return r })
        #expect(index.sorted.map(\.name) == (0..<10).reversed().map { "r\($0)" })
        index.replace(Self.cid, with: [rs[1]])
        #expect(index.count == 6 && index.request(rs[0].requestID) == nil && index.requests(of: Self.cid) == [rs[1]])
        var q = PSAQuery()
        q.before = rs[8].created
        q.after = rs[5].created
        #expect(index.candidates(q).map(\.name) == ["r7", "r6"])
        q.cids = [other]
        q.before = nil
        #expect(index.candidates(q).map(\.name) == ["r9", "r8", "r7", "r6"])
        index.replace(other, with: [])
        #expect(index.sorted.map(\.name) == ["r1"])
    }

    @Test("query parameters are checked against the spec's limits, each with a reason")
    func queryParsing() throws {
        func parse(_ q: [String: String]) throws(PSAError) -> PSAQuery { try PSAQuery { q[$0] } }
        let ok = try parse([
            "cid": "\(Self.cid),\(Self.cid)", "name": "Data", "match": "ipartial", "status": "queued,pinning", "limit": "1000",
            "before": "2020-07-27T17:32:28.276Z", "meta": #"{"app_id":"x"}"#,
        ])
        #expect(ok.cids.count == 2 && ok.match == .ipartial && ok.statuses == [.queued, .pinning] && ok.limit == 1000 && ok.meta == ["app_id": "x"])
        #expect(try parse([:]).statuses == [.pinned] && (try parse([:])).limit == 10)
        let eleven = Array(repeating: Self.cid.description, count: 11).joined(separator: ",")
        let ten = Array(repeating: Self.cid.description, count: 10).joined(separator: ",")
        #expect(try parse(["cid": ten]).cids.count == 10)
        let bad: [[String: String]] = [
            ["cid": eleven], ["cid": "nope"], ["cid": ""], ["limit": "0"], ["limit": "1001"], ["limit": "ten"], ["match": "fuzzy"],
            ["status": "done"], ["status": ""], ["before": "yesterday"], ["after": "1"], ["meta": "[1]"], ["meta": #"{"a":1}"#],
            ["name": String(repeating: "n", count: 256)],
        ]
        for b in bad {
            #expect(throws: PSAError.self, "\(b)") { _ = try parse(b) }
        }
        #expect(try parse(["name": String(repeating: "n", count: 255)]).name?.count == 255)
    }

    @Test("name filters match as exact, iexact, partial and ipartial say, meta needs every key")
    func matching() throws {
        let r = Self.request(1, name: "PreciousData.pdf", meta: ["app": "a", "v": "1"])
        func m(_ name: String, _ match: PSAQuery.Match) -> Bool {
            var q = PSAQuery()
            q.name = name
            q.match = match
            return q.matches(r)
        }
        #expect(m("PreciousData.pdf", .exact) && !m("preciousdata.pdf", .exact) && m("preciousdata.PDF", .iexact))
        #expect(m("Data", .partial) && !m("data", .partial) && m("data", .ipartial) && !m("Data", .exact))
        var q = PSAQuery()
        q.meta = ["app": "a"]
        #expect(q.matches(r))
        q.meta = ["app": "a", "v": "2"]
        #expect(!q.matches(r))
        q.meta = ["other": "a"]
        #expect(!q.matches(r))
    }

    @Test("the spec's status follows the allocated peers' statuses as Specs/pinning-service.md says")
    func statusMapping() throws {
        var rng = SplitMix64(seed: 9)
        let peers = try (0..<3).map { _ in try PeerID(ed25519PublicKey: rng.bytes(32)) }
        var pin = Pin(cid: Self.cid, allocations: [peers[0], peers[1]])
        pin.options.replicationFactorMin = 2
        func status(_ s: [TrackerStatus?], _ p: Pin? = nil) -> PSAStatus {
            var g = GlobalPinInfo(cid: Self.cid, pin: nil)
            for (i, st) in s.enumerated() {
                guard let st else { continue }
                g.peerMap[peers[i].description] = PinInfoShort(peername: "p\(i)", status: st, timestamp: Timestamp(unixMillis: 1), error: st.isError ? "boom" : "")
            }
            return PSAStatus.of(p ?? pin, g).status
        }
        #expect(status([.pinned, .pinned, .remote]) == .pinned)
        #expect(status([.pinned, .pinning, .remote]) == .pinning)
        #expect(status([.pinned, .pinError, .remote]) == .pinning)
        #expect(status([.pinQueued, .pinError]) == .queued)
        #expect(status([nil, .pinError]) == .queued)
        #expect(status([.pinError, .clusterError, .pinned]) == .failed)
        #expect(status([.unexpectedlyUnpinned, .pinError]) == .failed)
        var everywhere = Pin(cid: Self.cid)
        everywhere.options.replicationFactorMin = -1
        #expect(status([.pinned, .pinning, .pinQueued], everywhere) == .pinned)
        #expect(status([.pinError, .pinError, .pinError], everywhere) == .failed)
    }
}
