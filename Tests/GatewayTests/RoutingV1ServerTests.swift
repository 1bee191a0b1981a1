import AsyncHTTPClient
import ClusterTestKit
import EmbeddedIPFS
import Foundation
import Gateway
import Logging
import Multiformats
import NIOCore
import NIOHTTP1
import Testing

/// Providers from a list, counting the lookups and the limit each was asked with.
final class ListSource: RoutingProviderSource, @unchecked Sendable {
    let list: [RoutingProvider]
    private let lock = NSLock()
    private var asked: [(CID, Int)] = []
    init(_ list: [RoutingProvider]) { self.list = list }
    var lookups: [(CID, Int)] { lock.withLock { asked } }

    func providers(of cid: CID, limit: Int, timeout: Duration) -> AsyncStream<RoutingProvider> {
        lock.withLock { asked.append((cid, limit)) }
        let (stream, c) = AsyncStream<RoutingProvider>.makeStream()
        for p in list.prefix(limit) { c.yield(p) }
        c.finish()
        return stream
    }
}

@Suite("Routing V1 server: /routing/v1/providers/{cid} on the gateway")
struct RoutingV1ServerTests {
    static let cid = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"

    static func providers(_ n: Int) -> [RoutingProvider] {
        (0..<n).map { i in
            let id = try! PeerID(ed25519PublicKey: (0..<32).map { UInt8(truncatingIfNeeded: $0 &+ i &* 7 &+ 1) })
            return RoutingProvider(id: id, addrs: ["/ip4/127.0.0.1/tcp/\(4000 + i)"], protocols: [RoutingV1.bitswap])
        }
    }

    final class Live: @unchecked Sendable {
        let dir = GatewayTempDir()
        let app: RunningApp
        init(routing: (any RoutingProviderSource)?) async throws {
            try IPFSRepo.initialize(at: dir.path)
            let repo = try IPFSRepo(root: dir.path)
            var logger = Logger(label: "test.routing")
            logger.logLevel = .critical
            app = try await RunningApp.start(logger: logger) { running in
                GatewayServer(repo: repo, routing: routing, logger: logger).application(host: "127.0.0.1", port: 0, onRunning: running)
            }
        }

        func get(_ path: String, method: HTTPMethod = .GET, accept: String? = nil) async throws -> LiveGateway.Reply {
            var req = HTTPClientRequest(url: "http://127.0.0.1:\(app.port)" + path)
            req.method = method
            if let accept { req.headers.add(name: "Accept", value: accept) }
            let res = try await LiveGateway.http.execute(req, timeout: .seconds(30))
            var body = ByteBuffer()
            for try await var part in res.body { body.writeBuffer(&part) }
            return LiveGateway.Reply(status: Int(res.status.code), headers: res.headers, body: Array(buffer: body))
        }
    }

    @Test("JSON: the providers (at most 20) with a legacy bitswap record each, the spec's headers (Vary, 5-minute cache, Last-Modified, CORS), the CID asked as given")
    func json() async throws {
        let source = ListSource(Self.providers(30))
        let live = try await Live(routing: source)
        defer { Task { await live.app.stop() } }
        for accept in [nil, "application/json", "text/html,*/*", "application/json, text/plain"] {
            let r = try await live.get("/routing/v1/providers/\(Self.cid)", accept: accept)
            #expect(r.status == 200)
            #expect(r.header("Content-Type") == "application/json")
            #expect(r.header("Vary") == "Accept")
            #expect(r.header("Cache-Control") == "public, max-age=300, stale-while-revalidate=172800, stale-if-error=172800")
            #expect(r.header("Access-Control-Allow-Origin") == "*")
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "GMT")
            f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let modified = try #require(f.date(from: r.header("Last-Modified") ?? ""))
            #expect(abs(modified.timeIntervalSinceNow) < 120)
            #expect(r.body == RoutingV1.json(Array(source.list.prefix(20))))
            let back = try RoutingV1.decodeJSON(r.body)
            #expect(back.providers == Array(source.list.prefix(20)))
        }
        #expect(source.lookups.allSatisfy { $0.0.description == Self.cid && $0.1 == 20 })
    }

    @Test("NDJSON when asked: one record a line (two for a bitswap provider), at most 100 providers")
    func ndjson() async throws {
        let source = ListSource(Self.providers(120))
        let live = try await Live(routing: source)
        defer { Task { await live.app.stop() } }
        let r = try await live.get("/routing/v1/providers/\(Self.cid)", accept: "application/x-ndjson, application/json")
        #expect(r.status == 200)
        #expect(r.header("Content-Type") == "application/x-ndjson")
        #expect(r.header("Cache-Control")?.hasPrefix("public, max-age=300,") == true)
        #expect(r.text.split(separator: "\n").count == 200)
        #expect(r.body == source.list.prefix(100).flatMap { RoutingV1.ndjsonLines($0) })
        #expect(source.lookups.map(\.1) == [100])
    }

    @Test("no provider: 200 with an empty list (the spec: a server SHOULD NOT answer 404) and a 15-second cache; NDJSON: an empty body")
    func none() async throws {
        let live = try await Live(routing: ListSource([]))
        defer { Task { await live.app.stop() } }
        let r = try await live.get("/routing/v1/providers/\(Self.cid)")
        #expect(r.status == 200 && r.text == #"{"Providers":[]}"#)
        #expect(r.header("Cache-Control") == "public, max-age=15, stale-while-revalidate=172800, stale-if-error=172800")
        let nd = try await live.get("/routing/v1/providers/\(Self.cid)", accept: "application/x-ndjson")
        #expect(nd.status == 200 && nd.body.isEmpty)
        #expect(nd.header("Cache-Control")?.hasPrefix("public, max-age=15,") == true)
    }

    @Test("errors: a bad CID 400, an Accept it cannot meet 400, other routing paths 501 or 400, PUT 501, OPTIONS the CORS preflight, HEAD no body; off: 404 naming the key")
    func errors() async throws {
        let source = ListSource(Self.providers(1))
        let live = try await Live(routing: source)
        defer { Task { await live.app.stop() } }
        let bad = try await live.get("/routing/v1/providers/not-a-cid")
        #expect(bad.status == 400 && bad.text.contains("is not a CID"))
        #expect(try await live.get("/routing/v1/providers/").status == 400)
        #expect(try await live.get("/routing/v1/providers/\(Self.cid)/x").status == 400)
        let accept = try await live.get("/routing/v1/providers/\(Self.cid)", accept: "text/html")
        #expect(accept.status == 400 && accept.text.contains("application/x-ndjson"))
        #expect(try await live.get("/routing/v1/peers/12D3KooWM8sovaEGU1bmiWGWAzvs47DEcXKZZTuJnpQyVTkRs2Vn").status == 501)
        #expect(try await live.get("/routing/v1/ipns/k51").status == 501)
        #expect(try await live.get("/routing/v1/other").status == 400)
        let put = try await live.get("/routing/v1/providers/\(Self.cid)", method: .PUT)
        #expect(put.status == 501)
        let options = try await live.get("/routing/v1/providers/\(Self.cid)", method: .OPTIONS)
        #expect(options.status == 204)
        #expect(options.header("Access-Control-Allow-Methods") == "GET, OPTIONS")
        #expect(options.header("Access-Control-Allow-Origin") == "*")
        let head = try await live.get("/routing/v1/providers/\(Self.cid)", method: .HEAD)
        #expect(head.status == 200 && head.body.isEmpty && head.header("Content-Type") == "application/json")
        #expect(source.lookups.count == 1)

        let off = try await Live(routing: nil)
        defer { Task { await off.app.stop() } }
        let r = try await off.get("/routing/v1/providers/\(Self.cid)")
        #expect(r.status == 404 && r.text.contains("Gateway.ExposeRoutingAPI"))
        // The path gateway is unchanged beside it.
        #expect(try await off.get("/ipfs/not-a-cid").status == 400)
    }
}
