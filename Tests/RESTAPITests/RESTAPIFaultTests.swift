import ClusterModel
import ClusterTestKit
import Foundation
import Logging
import Multiformats
import Node
import RESTAPI
import Sodium
import Testing

/// The REST API under hostile or unlucky requests, spoken byte by byte over raw sockets on
/// 127.0.0.1: malformed chunked bodies, unread bodies on `Connection: close`, half-sent
/// headers, requests while the peer stops, writes to an untrusted peer.
@Suite(.serialized) struct RESTAPIFaultTests {
    static func serve(
        settings: RESTAPIServer.Settings = RESTAPIServer.Settings(), tweak: @escaping @Sendable (inout ClusterPeer.Settings) -> Void = { _ in }
    ) async throws -> (LocalCluster, RunningApp) {
        let c = try await LocalCluster(peers: 1, tweak: tweak)
        var quiet = Logger(label: "test.restapi")
        quiet.logLevel = .critical
        let server = try await RunningApp.start(logger: quiet) { running in
            try RESTAPIServer(peer: c[0].peer, settings: settings, logger: quiet).application(host: "127.0.0.1", port: 0, onRunning: running)
        }
        return (c, server)
    }

    static func stop(_ c: LocalCluster, _ server: RunningApp) async {
        await server.stop()
        await c.shutdown()
    }

    static let someCID = CID.v1(codec: .raw, .sha256(Array("fault tests".utf8)))

    /// The first response of `text`: its status and body (after the blank line).
    static func response(_ text: String) -> (status: Int?, body: String) {
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (RawSocket.status(text), body)
    }

    @Test("a malformed chunked request body is answered 400 saying the body was malformed, not 500")
    func malformedChunkedBodyIs400() async throws {
        let (c, server) = try await Self.serve()
        do {
            let s = try RawSocket(port: server.port)
            try s.send(
                "POST /add HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5\r\n--b\r\n\r\nzz-not-a-chunk-size\r\n\r\n")
            let (text, _) = await s.read(within: .seconds(10)) { $0.contains("\r\n\r\n") && $0.contains("}") }
            let (status, body) = Self.response(text)
            #expect(status == 400, "\(text)")
            #expect(body.contains("malformed"), "\(body)")
        }
        await Self.stop(c, server)
    }

    @Test("a Connection: close request whose body the handler does not read is answered and the connection closed")
    func unreadBodyOnConnectionCloseIsAnsweredAndClosed() async throws {
        let (c, server) = try await Self.serve()
        do {
            let s = try RawSocket(port: server.port)
            try s.send("GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 1073741824\r\n\r\n")
            let (text, torndown) = await s.upload(within: .seconds(15))
            #expect(Self.response(text).status == 200, "\(text.prefix(300))")
            #expect(torndown, "the server neither closed the connection nor read the body")
        }
        await Self.stop(c, server)
    }

    @Test("a pin asked of a peer outside its own trusted_peers is a 403 that says the peer is not trusted and what to change")
    func untrustedPeerRefusesWithForbidden() async throws {
        let stranger = try PeerID(ed25519PublicKey: Ed25519.PrivateKey.generate().publicKey.bytes)
        let (c, server) = try await Self.serve(tweak: {
            $0.trust = .peers([stranger])
            $0.pinset.trust = .peers([stranger])
        })
        do {
            let s = try RawSocket(port: server.port)
            try s.send("POST /pins/\(Self.someCID) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
            let (text, _) = await s.read(within: .seconds(10)) { $0.contains("\r\n\r\n") && $0.contains("}") }
            let (status, body) = Self.response(text)
            #expect(status == 403, "\(text)")
            #expect(body.contains("not in its own consensus.crdt.trusted_peers") && body.contains("add \(c[0].id)"), "\(body)")
            #expect(try await c[0].peer.pinned(Self.someCID) == nil)
        }
        await Self.stop(c, server)
    }

    @Test("requests after the peer began to stop are answered 503 shutting down in ipfs-cluster's error JSON, never SQLite's closed connection")
    func requestsWhileStoppingAre503() async throws {
        let (c, server) = try await Self.serve()
        await c[0].peer.stop()
        for request in [
            "GET /pins HTTP/1.1", "GET /pins/\(Self.someCID) HTTP/1.1", "POST /pins/\(Self.someCID) HTTP/1.1", "GET /allocations HTTP/1.1",
        ] {
            let s = try RawSocket(port: server.port)
            try s.send("\(request)\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
            let (text, _) = await s.read(within: .seconds(10)) { $0.contains("\r\n\r\n") && $0.contains("}") }
            let (status, body) = Self.response(text)
            #expect(status == 503, "\(request): \(text)")
            struct E: Decodable { let code: Int; let message: String }
            let e = try? JSONDecoder().decode(E.self, from: Data(body.utf8))
            #expect(e?.code == 503 && e?.message.contains("shutting down") == true, "\(request): \(body)")
        }
        await Self.stop(c, server)
    }

    @Test("300 connections that send half a request's headers are closed after read_header_timeout; an idle keep-alive connection after idle_timeout")
    func halfSentHeadersAndIdleConnectionsAreClosed() async throws {
        var settings = RESTAPIServer.Settings()
        settings.readHeaderTimeout = .milliseconds(500)
        settings.idleTimeout = .seconds(1)
        let (c, server) = try await Self.serve(settings: settings)
        do {
            var slow: [RawSocket] = []
            for _ in 0..<300 {
                let s = try RawSocket(port: server.port)
                try s.send("GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                slow.append(s)
            }
            let start = ContinuousClock.now
            // All waits run at once, each bounded: the whole check takes at most 10 s.
            let open = await withTaskGroup(of: Bool.self) { group in
                for s in slow { group.addTask { await s.read(within: .seconds(8)).closed } }
                var stillOpen = 0
                for await closed in group where !closed { stillOpen += 1 }
                return stillOpen
            }
            #expect(open == 0, "\(open) of 300 half-sent requests still open")
            #expect(ContinuousClock.now - start < .seconds(10))

            // A whole request in time is answered; the kept-alive connection closes once idle.
            let kept = try RawSocket(port: server.port)
            try kept.send("GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let answered = await kept.read(within: .seconds(5)) { $0.contains("}") }
            #expect(RawSocket.status(answered.text) == 200 && !answered.closed, "\(answered.text)")
            let idle = ContinuousClock.now
            let closed = await kept.read(within: .seconds(10)).closed
            #expect(closed, "the idle keep-alive connection was not closed")
            #expect(ContinuousClock.now - idle >= .milliseconds(900), "closed before idle_timeout")
        }
        await Self.stop(c, server)
    }
}
