import ClusterTestKit
import Foundation
import Hummingbird
import Multiformats
import NIOConcurrencyHelpers
import NIOCore

/// A stand-in IPFS daemon on 127.0.0.1 whose answers a test controls: it records what reached
/// it, echoes requests, answers with trailers, and holds streams at gates the test opens.
final class FakeDaemon: Sendable {
    struct Seen: Sendable {
        var method: String
        var path: String
        var query: String
        var headers: [String: String]
        var bodyBytes: Int
        var authority: String?
    }

    let seen = NIOLockedValueBox<[Seen]>([])
    /// Opened by the test: the gated answer's second line waits for it.
    let responseGate = Gate()
    /// Opened by the daemon when the first chunk of an upload arrived.
    let firstChunk = Gate()
    private let app = NIOLockedValueBox<RunningApp?>(nil)

    var port: Int { app.withLockedValue { $0!.port } }

    static func start() async throws -> FakeDaemon {
        let d = FakeDaemon()
        let router = Router()
        d.routes(router)
        let app = try await RunningApp.start(logger: ProxyFixture.quiet) { running in
            Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
                onServerRunning: { await running($0.localAddress!.port!) }, logger: ProxyFixture.quiet)
        }
        d.app.withLockedValue { $0 = app }
        return d
    }

    func stop() async { await app.withLockedValue { $0 }?.stop() }

    func requests(to path: String) -> [Seen] { seen.withLockedValue { $0.filter { $0.path == path } } }

    private func record(_ r: Request, bytes: Int) {
        var headers: [String: String] = [:]
        for f in r.headers { headers[f.name.canonicalName] = (headers[f.name.canonicalName].map { $0 + ", " } ?? "") + f.value }
        let s = Seen(method: r.method.rawValue, path: r.uri.path, query: r.uri.query ?? "", headers: headers, bodyBytes: bytes, authority: r.head.authority)
        seen.withLockedValue { $0.append(s) }
    }

    private static func name(_ s: String) -> HTTPFields.Element.Name { HTTPFields.Element.Name(s)! }

    private func routes(_ router: Router<BasicRequestContext>) {
        router.post("/api/v0/version") { [self] r, _ in
            record(r, bytes: 0)
            var h = HTTPFields()
            h[Self.name("Access-Control-Expose-Headers")] = "X-Stream-Output, X-Chunked-Output"
            h[Self.name("X-Extra")] = "from-the-daemon"
            return Response(status: .ok, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"Version\":\"0.38.0\"}\n")))
        }
        // kubo's preflight answer: it allows https://webui.example only.
        for path in ["/api/v0/pin/ls", "/api/v0/echo"] {
            router.on(RouterPath(path), method: .options) { r, _ in
                var h = HTTPFields()
                if r.headers[Self.name("Origin")] == "https://webui.example" { h[Self.name("Access-Control-Allow-Origin")] = "https://webui.example" }
                return Response(status: .ok, headers: h)
            }
        }
        // Any method: the request as it arrived, status 202, a header of its own.
        router.on("/api/v0/echo", method: .put) { [self] r, _ in try await echo(r) }
        router.post("/api/v0/echo") { [self] r, _ in try await echo(r) }
        router.get("/api/v0/echo") { [self] r, _ in try await echo(r) }
        router.post("/api/v0/trailer") { [self] r, _ in
            record(r, bytes: 0)
            var h = HTTPFields()
            h[Self.name("X-Chunked-Output")] = "1"
            h[Self.name("Trailer")] = "X-Stream-Error"
            return Response(
                status: .ok, headers: h,
                body: ResponseBody { w in
                    try await w.write(ByteBuffer(string: "{\"Part\":1}\n"))
                    var t = HTTPFields()
                    t[Self.name("X-Stream-Error")] = "the daemon failed half-way"
                    try await w.finish(t)
                })
        }
        router.post("/api/v0/gated") { [self] r, _ in
            record(r, bytes: 0)
            let gate = responseGate
            return Response(
                status: .ok,
                body: ResponseBody { w in
                    try await w.write(ByteBuffer(string: "first\n"))
                    await gate.wait()
                    try await w.write(ByteBuffer(string: "second\n"))
                    try await w.finish(nil)
                })
        }
        router.post("/api/v0/upload") { [self] r, _ in
            var total = 0
            for try await chunk in r.body {
                if total == 0 { firstChunk.open() }
                total += chunk.readableBytes
            }
            record(r, bytes: total)
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"Bytes\":\(total)}\n")))
        }
        // Answers chosen by `shape`: garbage, a line over the proxy's limit, a refusal, or kubo's.
        router.post("/api/v0/block/put") { [self] r, _ in
            let body = try await r.body.collect(upTo: 1 << 20)
            record(r, bytes: body.readableBytes)
            let digest = Multihash.digest(Array(body.readableBytesView), code: .sha2_256)!
            switch r.uri.queryParameters.get("shape") {
            case "garbage": return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "not json\n")))
            case "long":
                let pad = String(repeating: "a", count: 1 << 20)
                return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"Key\":\"\(pad)\"}\n")))
            case "refuse":
                return Response(status: .badRequest, body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"Message\":\"bad block\",\"Code\":1,\"Type\":\"error\"}\n")))
            default:
                let cid = CID.v1(codec: .raw, digest)
                return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"Key\":\"\(cid)\",\"Size\":\(body.readableBytes)}\n")))
            }
        }
        router.post("/api/v0/dag/put") { [self] r, _ in
            let body = try await r.body.collect(upTo: 1 << 20)
            record(r, bytes: body.readableBytes)
            let digest = Multihash.digest(Array(body.readableBytesView), code: .sha2_256)!
            let cid = CID.v1(codec: .raw, digest)
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"Cid\":{\"/\":\"\(cid)\"}}\n")))
        }
    }

    private func echo(_ r: Request) async throws -> Response {
        let body = try await r.body.collect(upTo: 64 << 20)
        record(r, bytes: body.readableBytes)
        var h = HTTPFields()
        h[Self.name("X-Echo")] = "yes"
        h[Self.name("Keep-Alive")] = "timeout=5"
        return Response(status: .accepted, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"Bytes\":\(body.readableBytes)}\n")))
    }
}

/// A one-shot signal: `wait()` returns once `open()` was called (before or after).
final class Gate: Sendable {
    private let state = NIOLockedValueBox<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { s -> Bool in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// Whether the gate opened within `bound`.
    func opened(within bound: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { g in
            g.addTask {
                await self.wait()
                return true
            }
            g.addTask {
                // Ends at the bound, or at once when the gate opened first (cancelled).
                _ = await LocalCluster.eventually(timeout: bound) { Task.isCancelled }
                return false
            }
            let first = await g.next()!
            g.cancelAll()
            if !first { self.open() }  // releases the waiting task
            return first
        }
    }
}
