import AsyncHTTPClient
import ClusterTestKit
import Foundation
import IPFSProxy
import NIOCore
import NIOHTTP1
import Testing

/// Calls the proxy does not answer itself go to the daemon unchanged, streamed both ways.
@Suite(.serialized) struct ProxyForwardingTests {
    static func withDaemon(
        _ tweak: (inout IPFSProxySettings) -> Void = { _ in }, _ body: (ProxyFixture, FakeDaemon) async throws -> Void
    ) async throws {
        let d = try await FakeDaemon.start()
        do {
            try await ProxyFixture.with(peers: 1, daemonPort: d.port, tweak) { f in try await body(f, d) }
        } catch {
            await d.stop()
            throw error
        }
        await d.stop()
    }

    @Test("method, path, query, headers and body reach the daemon; its status, headers and body come back")
    func forwardsUnchanged() async throws {
        try await Self.withDaemon { f, d in
            let body = seededBytes(3 << 20, seed: 20)
            let a = try await f.call(
                "echo", "arg=x&flag=true&arg=y", method: .PUT, body: .bytes(ByteBuffer(bytes: body)), contentType: "application/octet-stream",
                headers: [("X-Custom", "kept"), ("X-Private", "1"), ("Connection", "X-Private"), ("Keep-Alive", "timeout=9")])
            #expect(a.status == 202 && a.text == "{\"Bytes\":\(body.count)}\n")
            #expect(a.headers["X-Echo"].first == "yes" && a.headers["Keep-Alive"].isEmpty)
            let seen = try #require(d.requests(to: "/api/v0/echo").last)
            #expect(seen.method == "PUT" && seen.query == "arg=x&flag=true&arg=y" && seen.bodyBytes == body.count)
            #expect(seen.headers["x-custom"] == "kept" && seen.headers["content-type"] == "application/octet-stream")
            // The client's Host, as Go's reverse proxy leaves it.
            #expect(seen.authority == "127.0.0.1:\(f.app.port)")
            // Hop-by-hop headers, and those the client's Connection names, stop at the proxy.
            #expect(seen.headers["x-private"] == nil && seen.headers["keep-alive"] == nil)
            let get = try await f.call("echo", "arg=z", method: .GET)
            #expect(get.status == 202 && d.requests(to: "/api/v0/echo").last?.method == "GET")
            // A path the daemon does not know is its 404, not the proxy's.
            let unknown = try await f.call("no/such/command")
            #expect(unknown.status == 404)
        }
    }

    @Test("the daemon's X-Stream-Error trailer reaches the client")
    func forwardsTrailers() async throws {
        try await Self.withDaemon { f, _ in
            let a = try await f.call("trailer")
            #expect(a.status == 200 && a.text == "{\"Part\":1}\n" && a.headers["X-Chunked-Output"].first == "1")
            #expect(a.headers["Trailer"].first == "X-Stream-Error")
            #expect(a.trailers?["X-Stream-Error"].first == "the daemon failed half-way")
        }
    }

    @Test("the daemon's answer streams to the client as it is written, not once it is complete")
    func streamsResponses() async throws {
        try await Self.withDaemon { f, d in
            let response = try await HTTPClient.shared.execute(
                { var r = HTTPClientRequest(url: f.base + "/api/v0/gated"); r.method = .POST; return r }(), timeout: .seconds(30))
            var it = response.body.makeAsyncIterator()
            var got = ""
            // The first line arrives while the daemon still holds the second.
            while !got.contains("\n"), let chunk = try await it.next() { got += String(buffer: chunk) }
            #expect(got == "first\n")
            d.responseGate.open()
            while let chunk = try await it.next() { got += String(buffer: chunk) }
            #expect(got == "first\nsecond\n")
        }
    }

    @Test("the request body streams to the daemon as it arrives, not once it is complete")
    func streamsRequests() async throws {
        try await Self.withDaemon { f, d in
            let (chunks, feed) = AsyncStream<ByteBuffer>.makeStream()
            var r = HTTPClientRequest(url: f.base + "/api/v0/upload")
            r.method = .POST
            r.body = .stream(chunks, length: .unknown)
            let call = Task { try await Answer.fetch(r) }
            feed.yield(ByteBuffer(bytes: seededBytes(100_000, seed: 21)))
            // The daemon holds the first chunk while the client has not sent the rest.
            let reached = await d.firstChunk.opened(within: .seconds(10))
            #expect(reached)
            feed.yield(ByteBuffer(bytes: seededBytes(200_000, seed: 22)))
            feed.finish()
            let a = try await call.value
            #expect(a.status == 200 && a.text == "{\"Bytes\":300000}\n")
        }
    }

    @Test("a daemon that is down is answered 502 in kubo's error shape, naming it and what to change")
    func daemonDown() async throws {
        let d = try await FakeDaemon.start()
        let port = d.port
        await d.stop()
        try await ProxyFixture.with(peers: 1, daemonPort: port) { f in
            let a = try await f.call("id")
            #expect(a.status == 502 && a.object["Type"] as? String == "error" && a.object["Code"] as? Int == 0)
            #expect(
                a.message
                    == "the IPFS daemon at 127.0.0.1:\(port) cannot be reached: connection refused: nothing listens there. Start the daemon, or set api.ipfsproxy.node_multiaddress to its RPC API address"
            )
            // A call the proxy answers itself still works without the daemon.
            let ls = try await f.call("pin/ls")
            #expect(ls.status == 200 && ls.text == "{\"Keys\":{}}\n")
        }
    }

    @Test("answers of intercepted calls carry the headers copied from the daemon's version answer, asked once per TTL")
    func extractedHeaders() async throws {
        try await Self.withDaemon({ $0.extractHeadersExtra = ["X-Extra"] }) { f, d in
            let first = try await f.call("pin/ls")
            #expect(first.headers["Access-Control-Expose-Headers"].first == "X-Stream-Output, X-Chunked-Output")
            #expect(first.headers["X-Extra"].first == "from-the-daemon")
            let second = try await f.call("repo/stat")
            #expect(second.headers["X-Extra"].first == "from-the-daemon")
            #expect(d.requests(to: "/api/v0/version").count == 1)
        }
    }
}

extension ProxyForwardingTests {
    @Test("an origin the proxy does not list passes when the daemon's preflight allows it, and gets the daemon's CORS headers")
    func daemonAllowedOrigin() async throws {
        try await Self.withDaemon { f, _ in
            let webui = [("Origin", "https://webui.example")]
            let ls = try await f.call("pin/ls", headers: webui)
            #expect(ls.status == 200 && ls.headers["Access-Control-Allow-Origin"].first == "https://webui.example")
            let echo = try await f.call("echo", headers: webui)
            #expect(echo.status == 202)
            let other = try await f.call("pin/ls", headers: [("Origin", "https://evil.example")])
            #expect(other.status == 403)
            // A rebound host name is refused before the daemon is asked.
            let rebound = try await f.call("pin/ls", headers: webui + [("Host", "evil.example")])
            #expect(rebound.status == 403)
        }
    }
}

extension Answer {
    static func fetch(_ r: HTTPClientRequest) async throws -> Answer {
        let response = try await HTTPClient.shared.execute(r, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 256 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView), trailers: response.body.trailers)
    }
}
