import AsyncHTTPClient
import ClusterModel
import ClusterTestKit
import Foundation
import Multiformats
import NIOHTTP1
import Node
import PinningService
import RESTAPI
import Testing

/// Every endpoint of the Pinning Service API v1.0.0 against a real peer, over HTTP.
@Suite(.serialized) struct PSAComplianceTests {
    static func content(_ h: PSAHarness, _ n: Int) async throws -> CID {
        try await h.cluster.addFile(Array("psa content \(n)".utf8), to: 0)
    }

    @Test("a created request answers 202 with its status, and two requests for one CID get two ids")
    func createAndGet() async throws {
        let h = try await PSAHarness()
        defer { Task { await h.stop() } }
        let cid = try await Self.content(h, 1)
        let origin = "/ip4/203.0.113.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
        let a = try await h.create(cid.description, name: "PreciousData.pdf", meta: ["app_id": "x"], origins: [origin])
        let b = try await h.create(cid.description, name: "second")
        #expect(a.requestid != b.requestid && PSARequest.isRequestID(a.requestid))
        #expect(a.pin == PSAJSON.Pin(cid: cid.description, name: "PreciousData.pdf", origins: [origin], meta: ["app_id": "x"]))
        #expect(PSACreated.parse(a.created)! < PSACreated.parse(b.created)!)
        #expect((1...20).contains(a.delegates.count) && a.delegates.allSatisfy { $0.contains("/p2p/") })
        #expect(a.info?["status_details"] != nil)
        // The cluster pin carries the origins; both requests are on the one pin.
        let pin = try #require(try await h.cluster[0].peer.pinned(cid))
        #expect(pin.options.origins.map(\.description) == [origin] && pin.name == "PreciousData.pdf")
        #expect(await LocalCluster.eventually { (try? await h.send(.GET, "/pins/\(a.requestid)").decode(PSAJSON.PinStatus.self).status) == .pinned })
        let got = try await h.send(.GET, "/pins/\(a.requestid)").decode(PSAJSON.PinStatus.self)
        #expect(got.created == a.created && got.pin == a.pin && got.requestid == a.requestid)
        // Default listing: pinned only, newest first.
        let listed = try await h.list([])
        #expect(listed.count == 2 && listed.results.map(\.requestid) == [b.requestid, a.requestid])
    }

    @Test("a walk with before over 25 requests at limit 10 sees each exactly once, newest first, with a true count")
    func pagingWalk() async throws {
        let h = try await PSAHarness()
        defer { Task { await h.stop() } }
        var made: [String] = []
        for n in 0..<25 { made.append(try await h.create(try await Self.content(h, n).description, name: "item \(n)").requestid) }
        var seen: [String] = []
        var before: String?
        var counts: [Int] = []
        while true {
            var q = [PSAHarness.everyStatus, ("limit", "10")]
            if let before { q.append(("before", before)) }
            let page = try await h.list(q)
            counts.append(page.count)
            seen += page.results.map(\.requestid)
            if page.count == page.results.count { break }
            before = try #require(page.results.last).created
        }
        #expect(seen == made.reversed() && counts == [25, 15, 5])
        // after: the newest five, still newest first.
        let after = try await h.send(.GET, "/pins/\(made[19])").decode(PSAJSON.PinStatus.self).created
        let newest = try await h.list([PSAHarness.everyStatus, ("after", after)])
        #expect(newest.count == 5 && newest.results.map(\.requestid) == made[20...].reversed())
        let big = try await h.list([PSAHarness.everyStatus, ("limit", "1000")])
        #expect(big.results.count == 25)
    }

    @Test("cid, name with each match, status and meta filter, and bad parameters are 400 Failures")
    func filters() async throws {
        let h = try await PSAHarness()
        defer { Task { await h.stop() } }
        let c1 = try await Self.content(h, 1)
        let c2 = try await Self.content(h, 2)
        let a = try await h.create(c1.description, name: "PreciousData.pdf", meta: ["app": "one", "v": "1"])
        let b = try await h.create(c2.description, name: "other.txt", meta: ["app": "two"])
        let never = try CID("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")  // no peer has it
        let c = try await h.create(never.description, name: "missing")
        #expect(await LocalCluster.eventually { (try? await h.list([]).count) == 2 })
        func ids(_ q: [(String, String)]) async throws -> [String] { try await h.list(q).results.map(\.requestid) }
        #expect(try await ids([("cid", "\(c1),\(c2)")]) == [b.requestid, a.requestid])
        #expect(try await ids([("cid", "\(c1)")]) == [a.requestid])
        #expect(try await ids([("name", "PreciousData.pdf")]) == [a.requestid])
        #expect(try await ids([("name", "preciousdata.pdf")]).isEmpty)
        #expect(try await ids([("name", "preciousdata.PDF"), ("match", "iexact")]) == [a.requestid])
        #expect(try await ids([("name", "Data"), ("match", "partial")]) == [a.requestid])
        #expect(try await ids([("name", "data"), ("match", "partial")]).isEmpty)
        #expect(try await ids([("name", "T"), ("match", "ipartial")]) == [b.requestid, a.requestid])
        #expect(try await ids([("meta", #"{"app":"one"}"#)]) == [a.requestid])
        // Form encoding, as Go's url.Values writes it: `+` is a space, %2B a plus.
        let spaced = try await h.create(never.description, name: "two words+")
        let raw = try await h.send(.GET, "/pins?name=two+words%2B&status=queued,pinning&meta=%7B%22app%22%3A+%22none%22%7D")
        #expect(try raw.decode(PSAJSON.PinResults.self).count == 0)
        let plain = try await h.send(.GET, "/pins?name=two+words%2B&status=queued,pinning")
        #expect(try plain.decode(PSAJSON.PinResults.self).results.map(\.requestid) == [spaced.requestid])
        #expect(try await h.send(.DELETE, "/pins/\(spaced.requestid)").status == 202)
        #expect(try await ids([("meta", #"{"app":"one","v":"2"}"#)]).isEmpty)
        // The never-found CID is queued or pinning, not in the default (pinned) listing.
        #expect(try await ids([("status", "queued,pinning")]) == [c.requestid])
        #expect(try await ids([PSAHarness.everyStatus]) == [c.requestid, b.requestid, a.requestid])
        #expect(try await ids([("status", "failed")]).isEmpty)
        let bad: [[(String, String)]] = [
            [("limit", "0")], [("limit", "1001")], [("cid", "x")], [("status", "gone")], [("match", "fuzzy")], [("before", "today")],
            [("meta", "{")], [("cid", Array(repeating: c1.description, count: 11).joined(separator: ","))],
        ]
        for q in bad {
            let answer = try await h.send(.GET, "/pins", query: q)
            #expect(answer.status == 400 && answer.failure?.error.reason == "BAD_REQUEST" && answer.failure?.error.details?.isEmpty == false, "\(q): \(answer.text)")
        }
    }

    @Test("replace makes a new request (202) and removes the old; delete is 202 and unpins the last request's CID")
    func replaceAndDelete() async throws {
        let h = try await PSAHarness()
        defer { Task { await h.stop() } }
        let c1 = try await Self.content(h, 1)
        let c2 = try await Self.content(h, 2)
        let a = try await h.create(c1.description, name: "v1")
        let keep = try await h.create(c1.description, name: "keeps c1")
        // Replace with another CID: new id, new created, the old request gone; c1 stays for `keep`.
        let r = try await h.send(.POST, "/pins/\(a.requestid)", body: #"{"cid":"\#(c2)","name":"v2"}"#)
        #expect(r.status == 202)
        let replaced = try r.decode(PSAJSON.PinStatus.self)
        #expect(replaced.requestid != a.requestid && replaced.pin.cid == c2.description && replaced.created > a.created)
        #expect(try await h.send(.GET, "/pins/\(a.requestid)").status == 404)
        let p1 = try await h.cluster[0].peer.pinned(c1)
        let p2 = try await h.cluster[0].peer.pinned(c2)
        #expect(p1 != nil && p2 != nil)
        // Replace within one CID.
        let same = try await h.send(.POST, "/pins/\(keep.requestid)", body: #"{"cid":"\#(c1)","name":"renamed"}"#).decode(PSAJSON.PinStatus.self)
        #expect(same.pin.name == "renamed" && same.requestid != keep.requestid)
        #expect(try await h.list([PSAHarness.everyStatus, ("cid", c1.description)]).results.map(\.requestid) == [same.requestid])
        // Delete: 202 with no body; then 404; the CID is unpinned with its last request.
        let d = try await h.send(.DELETE, "/pins/\(same.requestid)")
        #expect(d.status == 202 && d.body.isEmpty)
        #expect(try await h.send(.DELETE, "/pins/\(same.requestid)").failure?.error.reason == "NOT_FOUND")
        #expect(try await h.cluster[0].peer.pinned(c1) == nil)
        // A pin made with the REST API before a request outlives the request's deletion.
        _ = try await h.cluster[0].peer.pin(c1)
        let over = try await h.create(c1.description)
        #expect(try await h.send(.DELETE, "/pins/\(over.requestid)").status == 202)
        let still = try await h.cluster[0].peer.pinned(c1)
        #expect(still != nil && still?.options.metadata.isEmpty == true)
        for path in ["/pins/\(a.requestid)", "/pins/0123456789abcdef0123456789abcdef", "/pins/not-an-id"] {
            for m in [HTTPMethod.GET, .DELETE] {
                let answer = try await h.send(m, path)
                #expect(answer.status == 404 && answer.failure?.error.reason == "NOT_FOUND", "\(m) \(path)")
            }
            let answer = try await h.send(.POST, path, body: #"{"cid":"\#(c1)"}"#)
            #expect(answer.status == 404 && answer.failure?.error.reason == "NOT_FOUND", "POST \(path)")
        }
    }

    @Test("a re-pin of the CID through the cluster (REST, proxy, pinmeshctl) keeps its requests")
    func repinThroughTheClusterKeepsRequests() async throws {
        let h = try await PSAHarness()
        defer { Task { await h.stop() } }
        let c = try await Self.content(h, 3)
        let request = try await h.create(c.description, name: "kept")
        var o = PinOptions()
        o.name = "from rest"
        o.metadata = ["owner": "ops"]
        let repinned = try await h.cluster[0].peer.pin(c, options: o)
        #expect(repinned.options.name == "from rest" && repinned.options.metadata["owner"] == "ops")
        #expect(repinned.options.metadata.keys.contains { $0.hasPrefix("psa:") }, "the request's record was dropped")
        let again = try await h.send(.GET, "/pins/\(request.requestid)")
        #expect(again.status == 200, "\(again.text)")
        #expect(try again.decode(PSAJSON.PinStatus.self).pin.name == "kept")
    }

    @Test("bad bodies and unknown routes answer the spec's Failure JSON with 400, 404 or 413")
    func errorShapes() async throws {
        let h = try await PSAHarness()
        defer { Task { await h.stop() } }
        let cases: [(HTTPMethod, String, String?, Int, String)] = [
            (.POST, "/pins", "not json", 400, "not JSON"),
            (.POST, "/pins", "{}", 400, "cid is missing"),
            (.POST, "/pins", #"{"cid":"nope"}"#, 400, "is not a CID"),
            (.POST, "/pins", #"{"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","name":"\#(String(repeating: "n", count: 256))"}"#, 400, "at most 255"),
            (.POST, "/pins", #"{"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","origins":["x"]}"#, 400, "is not a multiaddr"),
            (.POST, "/pins", #"{"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","meta":{"a":1}}"#, 400, "meta.a has the wrong type"),
            (.POST, "/pins", String(repeating: " ", count: PinningServiceServer.maxBody + 1), 413, "over"),
            (.GET, "/nothing", nil, 404, "no such endpoint"),
            (.PUT, "/pins", nil, 404, "no such endpoint"),
        ]
        for (m, path, body, code, words) in cases {
            let a = try await h.send(m, path, body: body)
            #expect(a.status == code && a.failure?.error.details?.contains(words) == true, "\(m) \(path): \(a.status) \(a.text)")
        }
        let origins = (0..<21).map { #""/ip4/10.0.0.\#($0)/tcp/4001""# }.joined(separator: ",")
        let tooMany = try await h.send(.POST, "/pins", body: #"{"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","origins":[\#(origins)]}"#)
        #expect(tooMany.status == 400 && tooMany.failure?.error.details?.contains("at most 20") == true)
        #expect(try await h.list([PSAHarness.everyStatus]).count == 0)
    }

    @Test("with credentials: no or a bad token is 401, a REST API token or the credentials pass")
    func auth() async throws {
        let h = try await PSAHarness(credentials: ["admin": "s3cret"])
        defer { Task { await h.stop() } }
        let issuer = TokenIssuer(lifetime: .seconds(60), file: nil)
        let now = Int64(Date().timeIntervalSince1970)
        let token = issuer.issue(user: "admin", password: "s3cret", now: now)
        let forged = issuer.issue(user: "admin", password: "guess", now: now)
        let expired = TokenIssuer(lifetime: .seconds(1), file: nil).issue(user: "admin", password: "s3cret", now: now - 10)
        for header in [nil, "Bearer junk", "Bearer \(forged)", "Bearer \(expired)", "Basic YWRtaW46Z3Vlc3M="] {
            let a = try await h.send(.GET, "/pins", headers: header.map { [("Authorization", $0)] } ?? [])
            #expect(a.status == 401 && a.failure?.error.reason == "UNAUTHORIZED", "\(header ?? "none"): \(a.text)")
        }
        #expect(try await h.send(.GET, "/pins", headers: [("Authorization", "Bearer \(token)")]).status == 200)
        #expect(try await h.send(.GET, "/pins", headers: [("Authorization", "Basic YWRtaW46czNjcmV0")]).status == 200)
        #expect(try await h.send(.GET, "/pins/0123456789abcdef0123456789abcdef").status == 401)
    }

    @Test("a token revoked through the REST API stops working here")
    func revokedToken() async throws {
        let dir = NSTemporaryDirectory() + "pinmesh-psa-revoke-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/revoked-tokens.json"
        let h = try await PSAHarness(credentials: ["admin": "s3cret"], revocationFile: file)
        defer { Task { await h.stop() } }
        var settings = RESTAPIServer.Settings()
        settings.revocationFile = file
        let rest = try await RunningApp.start { running in
            try RESTAPIServer(peer: h.cluster[0].peer, credentials: ["admin": "s3cret"], settings: settings).application(host: "127.0.0.1", port: 0, onRunning: running)
        }
        defer { Task { await rest.stop() } }
        func restCall(_ method: HTTPMethod, _ auth: String) async throws -> (Int, Data) {
            var r = HTTPClientRequest(url: "http://127.0.0.1:\(rest.port)/token")
            r.method = method
            r.headers.add(name: "Authorization", value: auth)
            let response = try await HTTPClient.shared.execute(r, timeout: .seconds(10))
            return (Int(response.status.code), Data(buffer: try await response.body.collect(upTo: 1 << 16)))
        }
        let (issued, body) = try await restCall(.POST, "Basic YWRtaW46czNjcmV0")
        let token = try #require(issued == 200 ? try JSONDecoder().decode([String: String].self, from: body)["token"] : nil)
        #expect(try await h.send(.GET, "/pins", headers: [("Authorization", "Bearer \(token)")]).status == 200)
        #expect(try await restCall(.DELETE, "Bearer \(token)").0 == 204)
        let after = try await h.send(.GET, "/pins", headers: [("Authorization", "Bearer \(token)")])
        #expect(after.status == 401 && after.failure?.error.details?.contains("revoked") == true, "\(after.text)")
    }
}
