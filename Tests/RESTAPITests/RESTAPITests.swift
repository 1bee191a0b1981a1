import AsyncHTTPClient
import ClusterClient
import ClusterModel
import ClusterTestKit
import Foundation
import Hummingbird
import Logging
import Multiformats
import NIOConcurrencyHelpers
import NIOHTTP1
import Node
import RESTAPI
import Testing
import UnixFS

/// The REST API served by a real peer of a two-peer LocalCluster, called over HTTP with
/// `ClusterClient` (what `pinmeshctl` uses).
@Suite(.serialized) struct RESTAPITests {
    struct Served {
        let cluster: LocalCluster
        let client: ClusterClient
        let server: RunningApp
        var port: Int { server.port }
    }

    static func serve(
        peers: Int = 2, credentials: [String: String]? = nil, auth: (String, String)? = nil, settings: RESTAPIServer.Settings = RESTAPIServer.Settings(),
        storageMax: UInt64? = nil
    ) async throws -> Served {
        let c = try await LocalCluster(peers: peers, storageMax: storageMax)
        var quiet = Logger(label: "test.restapi")
        quiet.logLevel = .critical  // the server's own shutdown chatter is not a test result
        let server = try await RunningApp.start(logger: quiet) { running in
            try RESTAPIServer(peer: c[0].peer, credentials: credentials, settings: settings, logger: quiet)
                .application(host: "127.0.0.1", port: 0, onRunning: running)
        }
        let client = try ClusterClient(hosts: ["/ip4/127.0.0.1/tcp/\(server.port)"], basicAuth: auth)
        return Served(cluster: c, client: client, server: server)
    }

    static func stop(_ s: Served) async {
        await s.server.stop()
        await s.cluster.shutdown()
    }

    static func status(_ s: Served, _ method: HTTPMethod, _ path: String, query: [(String, String)] = []) async -> (Int?, String) {
        do {
            let response = try await s.client.send(method, path, query: query)
            if response.status == .noContent { return (204, "") }
            return (200, String(decoding: try await s.client.body(response), as: UTF8.self))
        } catch let e as ClusterClient.ClientError {
            return (e.status, e.message)
        } catch {
            return (nil, "\(error)")
        }
    }

    /// A request with exactly these headers (what a browser would send), outside ClusterClient.
    static func raw(_ s: Served, _ method: HTTPMethod, _ path: String, _ headers: [(String, String)]) async throws -> HTTPClientResponse {
        var r = HTTPClientRequest(url: "http://127.0.0.1:\(s.port)\(path)")
        r.method = method
        for (k, v) in headers { r.headers.add(name: k, value: v) }
        return try await HTTPClient.shared.execute(r, timeout: .seconds(10))
    }

    @Test func pinStatusAllocationsAndErrorsAsIpfsClusterAnswers() async throws {
        let s = try await Self.serve()
        defer { Task { await Self.stop(s) } }
        let c = s.cluster
        #expect(await LocalCluster.eventually { await c[0].peer.monitor.peers().count == 2 })
        let version = try await s.client.decode([String: String].self, .GET, "/version")
        #expect(version["version"] == PinMeshVersion.string)
        struct ID: Decodable { let id: String; let peername: String; let cluster_peers: [String] }
        let id = try await s.client.decode(ID.self, .GET, "/id")
        #expect(id.id == c[0].id.description && id.peername == "peer0")
        // The peerset is the peers with an unexpired ping: on a loaded run a ping may be late
        // for a moment, so the API is asked until it shows both (bounded), not once.
        #expect(await LocalCluster.eventually {
            (try? await s.client.decode(ID.self, .GET, "/id"))?.cluster_peers.count == 2
        })
        #expect(await LocalCluster.eventually {
            let peers = NIOLockedValueBox<[String]>([])
            guard (try? await s.client.each(ID.self, .GET, "/peers") { p in peers.withLockedValue { $0.append(p.peername) } }) != nil else { return false }
            return peers.withLockedValue { $0 }.sorted() == ["peer0", "peer1"]
        })

        let cid = try await c.addFile(Array(repeating: 7, count: 5_000), to: 1)
        let pin = try await s.client.decode(
            Pin.self, .POST, "/pins/\(cid)",
            query: [("replication-min", "1"), ("replication-max", "1"), ("name", "one copy"), ("meta-owner", "ops"), ("expire-in", "1h")])
        #expect(pin.cid == cid && pin.allocations.count == 1 && pin.name == "one copy")
        #expect(pin.options.metadata == ["owner": "ops"])
        #expect(pin.options.expireAt.map { $0.unixMillis > Timestamp.now().unixMillis + 3_500_000 } == true)
        #expect(try await LocalCluster.eventually {
            let g = try await s.client.decode(GlobalPinInfo.self, .GET, "/pins/\(cid)")
            return g.peerMap.values.map(\.status).sorted { $0.rawValue < $1.rawValue } == [.pinned, .remote]
        })
        // Streams: every pin; the local view; a filter that matches nothing is 204.
        let all = NIOLockedValueBox<[GlobalPinInfo]>([])
        try await s.client.each(GlobalPinInfo.self, .GET, "/pins") { g in all.withLockedValue { $0.append(g) } }
        #expect(all.withLockedValue { $0.count == 1 && $0[0].peerMap.count == 2 && $0[0].name == "one copy" })
        let local = NIOLockedValueBox<[GlobalPinInfo]>([])
        try await s.client.each(GlobalPinInfo.self, .GET, "/pins", query: [("local", "true")]) { g in local.withLockedValue { $0.append(g) } }
        #expect(local.withLockedValue { $0.count == 1 && $0[0].peerMap.keys.sorted() == [c[0].id.description] })
        #expect(await Self.status(s, .GET, "/pins", query: [("filter", "pin_error,queued")]) == (204, ""))
        let some = NIOLockedValueBox(0)
        try await s.client.each(GlobalPinInfo.self, .GET, "/pins", query: [("cids", "\(cid)"), ("filter", "pinned")]) { _ in some.withLockedValue { $0 += 1 } }
        #expect(some.withLockedValue { $0 } == 1)
        let allocations = try await s.client.decode(Pin.self, .GET, "/allocations/\(cid)")
        #expect(allocations == pin)
        let listed = NIOLockedValueBox(0)
        try await s.client.each(Pin.self, .GET, "/allocations", query: [("filter", "pin")]) { _ in listed.withLockedValue { $0 += 1 } }
        #expect(listed.withLockedValue { $0 } == 1)

        // Bad input: 400 or 404 with a message that says what to fix; nothing changes.
        let bad: [(HTTPMethod, String, [(String, String)], Int, String)] = [
            (.GET, "/pins", [("filter", "bogus")], 400, "is not a status"),
            (.GET, "/pins/notacid", [], 400, "is not a CID"),
            (.GET, "/pins", [("local", "maybe")], 400, "not a boolean"),
            (.POST, "/pins/\(cid)", [("replication-min", "x")], 400, "not an integer"),
            (.POST, "/pins/\(cid)", [("replication-min", "3"), ("replication-max", "2")], 400, "above replication-max"),
            (.POST, "/pins/\(cid)", [("mode", "sideways")], 400, "recursive or direct"),
            (.POST, "/pins/\(cid)", [("expire-at", "tomorrow")], 400, "RFC 3339"),
            (.POST, "/pins/\(cid)", [("user-allocations", "nobody")], 400, "not a peer ID"),
            (.GET, "/allocations", [("filter", "nope")], 400, "not a pin type"),
            (.GET, "/allocations/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", [], 404, "not pinned"),
            (.DELETE, "/pins/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", [], 404, "not pinned"),
            (.POST, "/pins/\(cid)", [("replication-min", "3"), ("replication-max", "3")], 503, "not enough peers"),
            // Over the stored limits: refused before anything is committed (a pin committed with
            // them made every later listing of this peer fail, and the other peers refuse it).
            (.POST, "/pins/\(cid)", [("name", String(repeating: "n", count: 2_000))], 400, "the pin's name is 2000 bytes long; a pin stores at most 1024"),
            (.POST, "/pins/\(cid)", [("meta-owner", String(repeating: "o", count: 1_025))], 400, "metadata key meta-owner is 1025 bytes"),
        ]
        for (method, path, query, code, words) in bad {
            let (got, message) = await Self.status(s, method, path, query: query)
            #expect(got == code && message.contains(words), "\(method) \(path) \(query): \(String(describing: got)) \(message)")
        }
        #expect(try await c[0].peer.pinned(cid) == pin)

        let names = try await s.client.decode([String].self, .GET, "/monitor/metrics")
        #expect(names.contains("ping") && names.contains("freespace"))
        let pings = try await s.client.decode([Metric].self, .GET, "/monitor/metrics/ping")
        #expect(pings.count == 2)
        // Each ping names its peer and its IPFS daemon (Specs/monitoring.md).
        let values = try pings.map { try JSONDecoder().decode(PingValue.self, from: Data($0.value.utf8)) }
        #expect(Set(values.map(\.peername)) == ["peer0", "peer1"])
        #expect(values.allSatisfy { $0.ipfsID?.hasPrefix("12D3KooW") == true })
        _ = try await s.client.decode([Alert].self, .GET, "/health/alerts")
        #expect(await Self.status(s, .GET, "/health") == (204, ""))

        // Recover (nothing failed: the status comes back), then unpin.
        let recovered = try await s.client.decode(GlobalPinInfo.self, .POST, "/pins/\(cid)/recover")
        #expect(recovered.peerMap.count == 2)
        _ = try await s.client.decode(Pin.self, .DELETE, "/pins/\(cid)")
        #expect(try await c[0].peer.pinned(cid) == nil)
    }

    @Test func basicAuthGuardsEverythingButHealth() async throws {
        let s = try await Self.serve(credentials: ["admin": "s3cret"])
        defer { Task { await Self.stop(s) } }
        #expect(await Self.status(s, .GET, "/id").0 == 401)
        #expect(await Self.status(s, .GET, "/health") == (204, ""))
        let wrong = try ClusterClient(hosts: ["http://127.0.0.1:\(s.port)"], basicAuth: ("admin", "guess"))
        await #expect(throws: ClusterClient.ClientError.self) { _ = try await wrong.call(.GET, "/id") }
        let right = try ClusterClient(hosts: ["http://127.0.0.1:\(s.port)"], basicAuth: ("admin", "s3cret"))
        #expect(try await right.call(.GET, "/version").isEmpty == false)
        // A host that does not answer fails over to the next.
        let failover = try ClusterClient(hosts: ["/ip4/127.0.0.1/tcp/1", "http://127.0.0.1:\(s.port)"], basicAuth: ("admin", "s3cret"))
        #expect(try await failover.call(.GET, "/version").isEmpty == false)
    }
}

/// Tokens (`POST /token`, `DELETE /token`), CORS and path pins.
@Suite(.serialized) struct TokenCORSAndPathTests {
    @Test func tokensAreIssuedUsedRevokedAndExpire() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-tokens-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("revoked.json").path
        var settings = RESTAPIServer.Settings()
        settings.revocationFile = file
        let s = try await RESTAPITests.serve(credentials: ["admin": "s3cret", "ops": "pa55"], settings: settings)
        defer { Task { await RESTAPITests.stop(s) } }
        let base = "http://127.0.0.1:\(s.port)"
        let admin = try ClusterClient(hosts: [base], basicAuth: ("admin", "s3cret"))
        struct T: Decodable { let token: String }
        let token = try await admin.decode(T.self, .POST, "/token").token
        let bearer = try ClusterClient(hosts: [base], token: token)
        #expect(try await bearer.call(.GET, "/id").isEmpty == false)
        // A token cannot make tokens; a forged or tampered one is refused, and so is alg none.
        await #expect(throws: ClusterClient.ClientError.self) { _ = try await bearer.call(.POST, "/token") }
        let parts = token.split(separator: ".").map(String.init)
        let forged = [TokenIssuer.base64url(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)), parts[1], ""].joined(separator: ".")
        let resigned = [parts[0], parts[1], TokenIssuer.base64url([UInt8](repeating: 1, count: 32))].joined(separator: ".")
        for (bad, words) in [(forged, "HS256"), (resigned, "signature"), ("junk", "not a JWT")] {
            do {
                _ = try await ClusterClient(hosts: [base], token: bad).call(.GET, "/id")
                Issue.record("\(words): accepted")
            } catch let e as ClusterClient.ClientError {
                #expect(e.status == 401 && e.message.contains(words), "\(e)")
            }
        }
        // Revoking the token used: it stops working; a restart (a new issuer on the same file) keeps that.
        _ = try await bearer.call(.DELETE, "/token")
        do {
            _ = try await bearer.call(.GET, "/id")
            Issue.record("a revoked token worked")
        } catch let e as ClusterClient.ClientError {
            #expect(e.status == 401 && e.message.contains("revoked"), "\(e)")
        }
        let reloaded = TokenIssuer(lifetime: .seconds(60), file: file)
        #expect(throws: RESTAPIServer.APIError.self) { try reloaded.verify(token, credentials: ["admin": "s3cret"], now: Int64(Date().timeIntervalSince1970)) }
        // Basic auth revokes every token of that user so far; a new one works, another user's stays.
        let second = try await admin.decode(T.self, .POST, "/token").token
        let opsToken = try await ClusterClient(hosts: [base], basicAuth: ("ops", "pa55")).decode(T.self, .POST, "/token").token
        _ = try await admin.call(.DELETE, "/token")
        await #expect(throws: ClusterClient.ClientError.self) { _ = try await ClusterClient(hosts: [base], token: second).call(.GET, "/id") }
        let third = try await admin.decode(T.self, .POST, "/token").token
        #expect(try await ClusterClient(hosts: [base], token: third).call(.GET, "/id").isEmpty == false)
        #expect(try await ClusterClient(hosts: [base], token: opsToken).call(.GET, "/id").isEmpty == false)
        // Expiry: valid until its lifetime passes (checked at a later `now`), and a changed password ends it.
        let issuer = TokenIssuer(lifetime: .seconds(60), file: nil)
        let t = issuer.issue(user: "admin", password: "s3cret", now: 1_000)
        #expect(try issuer.verify(t, credentials: ["admin": "s3cret"], now: 1_059).user == "admin")
        #expect(throws: RESTAPIServer.APIError.self) { try issuer.verify(t, credentials: ["admin": "s3cret"], now: 1_060) }
        #expect(throws: RESTAPIServer.APIError.self) { try issuer.verify(t, credentials: ["admin": "changed"], now: 1_001) }
        let forever = TokenIssuer(lifetime: nil, file: nil).issue(user: "admin", password: "s3cret", now: 1_000)
        #expect(try issuer.verify(forever, credentials: ["admin": "s3cret"], now: 9_999_999_999).user == "admin")
    }

    @Test func tokensNeedCredentialsConfigured() async throws {
        let s = try await RESTAPITests.serve()
        defer { Task { await RESTAPITests.stop(s) } }
        let (code, message) = await RESTAPITests.status(s, .POST, "/token")
        #expect(code == 400 && message.contains("basic_auth_credentials"))
    }

    /// A self-signed certificate for localhost and 127.0.0.1 (valid to 2126; its key is public,
    /// in the repository, for tests only).
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    @Test func tlsServesHTTPSOnlyAndClientsVerifyUnlessTold() async throws {
        var settings = RESTAPIServer.Settings()
        settings.tls = try RESTAPIServer.tlsConfiguration(
            certificateFile: Self.fixtures.appendingPathComponent("test-tls-cert.pem").path,
            keyFile: Self.fixtures.appendingPathComponent("test-tls-key.pem").path)
        let s = try await RESTAPITests.serve(credentials: ["admin": "s3cret"], settings: settings)
        defer { Task { await RESTAPITests.stop(s) } }
        // What pinmeshctl --https --no-check-certificate uses: works, auth and all.
        let insecure = try ClusterClient(
            hosts: ["/ip4/127.0.0.1/tcp/\(s.port)"], basicAuth: ("admin", "s3cret"), https: true, checkCertificate: false)
        struct ID: Decodable { let id: String }
        let id = try await insecure.decode(ID.self, .GET, "/id")
        #expect(id.id == s.cluster[0].id.description)
        let wrongPassword = try ClusterClient(hosts: ["https://127.0.0.1:\(s.port)"], basicAuth: ("admin", "nope"), checkCertificate: false)
        await #expect(throws: ClusterClient.ClientError.self) { _ = try await wrongPassword.call(.GET, "/id") }
        // A verifying client refuses the self-signed certificate (the HTTP client retries a
        // failed connection until the deadline, then reports the last failure).
        let verifying = try ClusterClient(hosts: ["https://127.0.0.1:\(s.port)"], basicAuth: ("admin", "s3cret"), timeout: .seconds(2))
        let refused = await #expect(throws: ClusterClient.ClientError.self) { _ = try await verifying.call(.GET, "/id") }
        #expect(refused.map { "\($0)".lowercased().contains("certificate") } == true, "\(String(describing: refused))")
        // Plain HTTP on the HTTPS port gets nothing.
        let plain = try ClusterClient(hosts: ["http://127.0.0.1:\(s.port)"], basicAuth: ("admin", "s3cret"), timeout: .seconds(2))
        await #expect(throws: (any Error).self) { _ = try await plain.call(.GET, "/id") }
    }

    @Test func unusableCertificateFilesAreNamed() throws {
        let cert = Self.fixtures.appendingPathComponent("test-tls-cert.pem").path
        let key = Self.fixtures.appendingPathComponent("test-tls-key.pem").path
        #expect { _ = try RESTAPIServer.tlsConfiguration(certificateFile: "/nonexistent.pem", keyFile: key) } throws: { error in
            (error as? RESTAPIServer.APIError)?.message.contains("/nonexistent.pem: not a readable PEM certificate") == true
        }
        // The certificate given as the key.
        #expect { _ = try RESTAPIServer.tlsConfiguration(certificateFile: cert, keyFile: cert) } throws: { error in
            (error as? RESTAPIServer.APIError)?.message.contains("not a readable PEM private key") == true
        }
    }

    @Test func corsFollowsTheConfiguredOrigins() async throws {
        var settings = RESTAPIServer.Settings()
        settings.corsAllowedOrigins = ["https://app.example"]
        settings.corsAllowedMethods = ["GET", "POST"]
        settings.corsAllowedHeaders = ["Authorization"]
        settings.corsMaxAge = .seconds(600)
        settings.headers = ["X-Served-By": ["pinmesh"]]
        let s = try await RESTAPITests.serve(credentials: ["admin": "s3cret"], settings: settings)
        defer { Task { await RESTAPITests.stop(s) } }
        func send(_ method: HTTPMethod, _ path: String, _ headers: [(String, String)]) async throws -> HTTPClientResponse {
            try await RESTAPITests.raw(s, method, path, headers)
        }
        // A preflight is answered without credentials.
        let pre = try await send(.OPTIONS, "/pins", [("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST")])
        #expect(pre.status == .noContent && pre.headers.first(name: "Access-Control-Allow-Origin") == "https://app.example")
        #expect(pre.headers.first(name: "Access-Control-Allow-Methods") == "GET, POST" && pre.headers.first(name: "Access-Control-Max-Age") == "600")
        let other = try await send(.OPTIONS, "/pins", [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST")])
        #expect(other.headers.first(name: "Access-Control-Allow-Origin") == nil)
        let get = try await send(.GET, "/version", [("Origin", "https://app.example"), ("Authorization", "Basic " + Data("admin:s3cret".utf8).base64EncodedString())])
        #expect(get.status == .ok && get.headers.first(name: "Access-Control-Allow-Origin") == "https://app.example")
        #expect(get.headers.first(name: "Access-Control-Expose-Headers")?.contains("X-Chunked-Output") == true)
        #expect(get.headers.first(name: "X-Served-By") == "pinmesh")
        #expect(get.headers.first(name: "Access-Control-Allow-Credentials") == "true")
        // A web page elsewhere cannot pin: no preflight protects a text/plain POST, so the API
        // refuses it before it runs; a listed origin may, and same-origin is not cross-origin.
        let auth = ("Authorization", "Basic " + Data("admin:s3cret".utf8).base64EncodedString())
        let cid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        let evil = try await send(.POST, "/pins/\(cid)", [("Origin", "https://evil.example"), ("Content-Type", "text/plain"), auth])
        #expect(evil.status == .forbidden && evil.headers.first(name: "Access-Control-Allow-Origin") == nil)
        let evilBody = String(buffer: try await evil.body.collect(upTo: 1 << 16))
        #expect(evilBody.contains("cross-origin POST from https://evil.example refused: the origin is not in cors_allowed_origins"))
        let deleteFromApp = try await send(.DELETE, "/pins/\(cid)", [("Origin", "https://app.example"), auth])
        #expect(deleteFromApp.status == .forbidden)
        #expect(String(buffer: try await deleteFromApp.body.collect(upTo: 1 << 16)).contains("the method DELETE is not in cors_allowed_methods"))
        let same = try await send(.GET, "/version", [("Origin", "http://127.0.0.1:\(s.port)"), auth])
        #expect(same.status == .ok && same.headers.first(name: "Access-Control-Allow-Origin") == nil)
        #expect(try await s.cluster[0].peer.pinned(try CID(cid)) == nil)
    }

    /// With the default `*`, any origin may read, never with credentials, and may not write.
    @Test func anyOriginReadsWithoutCredentialsAndCannotWrite() async throws {
        let s = try await RESTAPITests.serve(peers: 1)
        defer { Task { await RESTAPITests.stop(s) } }
        func send(_ method: HTTPMethod, _ path: String, _ headers: [(String, String)]) async throws -> HTTPClientResponse {
            try await RESTAPITests.raw(s, method, path, headers)
        }
        let get = try await send(.GET, "/version", [("Origin", "http://evil.example")])
        #expect(get.status == .ok && get.headers.first(name: "Access-Control-Allow-Origin") == "*")
        #expect(get.headers.first(name: "Access-Control-Allow-Credentials") == nil)
        let cid = try await s.cluster.addFile(Array(repeating: 3, count: 100), to: 0)
        for (method, path) in [(HTTPMethod.POST, "/pins/\(cid)"), (.POST, "/ipfs/gc"), (.DELETE, "/pins/\(cid)")] {
            let r = try await send(method, path, [("Origin", "http://evil.example"), ("Content-Type", "text/plain")])
            #expect(r.status == .forbidden, "\(method) \(path)")
        }
        // DNS rebinding: same-origin to the browser, but the name is not this machine's.
        let rebound = try await send(.POST, "/pins/\(cid)", [("Origin", "http://evil.example:\(s.port)"), ("Host", "evil.example:\(s.port)")])
        #expect(rebound.status == .forbidden)
        #expect(try await s.cluster[0].peer.pinned(cid) == nil)
    }

    @Test func pathPinsResolveThroughIPFS() async throws {
        let s = try await RESTAPITests.serve()
        defer { Task { await RESTAPITests.stop(s) } }
        let c = s.cluster
        #expect(await LocalCluster.eventually { await c[0].peer.monitor.peers().count == 2 })
        // A directory holding one file, in peer 0's IPFS.
        let (file, fileBlocks) = try FileImporter.importBytes(Array("inside\n".utf8), settings: ImportSettings(), keepBlocks: true)
        var dirBlocks: [Block] = []
        let dir = try DirectoryEncoder(encoder: NodeEncoder(settings: ImportSettings(), keepBlocks: true))
            .directory([DirectoryEntry(name: "f.txt", node: file)], blocks: &dirBlocks)
        _ = try await c[0].connector.blockPut(BlockList(blocks: fileBlocks + dirBlocks))
        let pin = try await s.client.decode(Pin.self, .POST, "/pins/ipfs/\(dir.cid)/f.txt", query: [("name", "by path")])
        #expect(pin.cid == file.cid && pin.name == "by path")
        let direct = try await s.client.decode(Pin.self, .POST, "/pins/ipfs/\(dir.cid)")
        #expect(direct.cid == dir.cid)
        let removed = try await s.client.decode(Pin.self, .DELETE, "/pins/ipfs/\(dir.cid)/f.txt")
        let gone = try await c[0].peer.pinned(file.cid)
        #expect(removed.cid == file.cid && gone == nil)
        for (path, code) in [("/pins/ipfs/\(dir.cid)/missing", 400), ("/pins/ipfs/notacid/x", 400)] {
            let (got, message) = await RESTAPITests.status(s, .POST, path)
            #expect(got == code && message.contains("resolve"), "\(path): \(message)")
        }
    }
}

/// `POST /ipfs/gc`, `GET /health/graph`, `DELETE /peers/{id}`.
@Suite(.serialized) struct ClusterOperationTests {
    @Test func gcRunsOnEveryPeerAndGraphShowsTheConnections() async throws {
        let s = try await RESTAPITests.serve()
        defer { Task { await RESTAPITests.stop(s) } }
        let c = s.cluster
        #expect(await LocalCluster.eventually { await c[0].peer.monitor.peers().count == 2 })
        // An unpinned block on peer 1: a garbage collection removes it (once it is over a
        // second old: younger blocks may belong to an import in flight and are spared).
        let loose = try await c.addFile(Array(repeating: 3, count: 1_000), to: 1)
        var last: GlobalRepoGC?
        #expect(try await LocalCluster.eventually {
            last = try await s.client.decode(GlobalRepoGC.self, .POST, "/ipfs/gc")
            return last?.peerMap[c[1].id.description]?.removed ?? 0 >= 1
        })
        let gc = try #require(last)
        #expect(gc.peerMap.count == 2 && gc.peerMap.values.allSatisfy { $0.error == nil })
        let one = try #require(gc.peerMap[c[1].id.description])
        #expect(one.peername == "peer1" && one.keys.contains { (try? CID($0.key))?.multihash == loose.multihash })
        #expect(!c[1].repo.blocks.has(loose))
        let local = try await s.client.decode(GlobalRepoGC.self, .POST, "/ipfs/gc", query: [("local", "true")])
        #expect(local.peerMap.keys.sorted() == [c[0].id.description])

        let graph = try await s.client.decode(ConnectGraph.self, .GET, "/health/graph")
        let (a, b) = (c[0].id.description, c[1].id.description)
        #expect(graph.clusterID == a && graph.idToPeername == [a: "peer0", b: "peer1"])
        #expect(graph.clusterLinks[a] == [b] && graph.clusterLinks[b] == [a])
        #expect(graph.clusterTrustLinks == [a: true, b: true] && graph.clusterToIPFS.count == 2)

        // Traffic: totals count every sealed byte; rates come from the once-a-second sample.
        #expect(try await LocalCluster.eventually {
            let bw = try await s.client.decode([String: BandwidthStats].self, .GET, "/health/bandwidth")
            guard let tcp = bw["/pinmesh/tcp"], bw["/pinmesh/udp"] != nil else { return false }
            return tcp.totalIn > 0 && tcp.totalOut > 0 && tcp.rateIn > 0 && tcp.rateOut > 0
        })
    }

    @Test func aRemovedPeerLeavesThePeersetAndBadRemovalsAreRefused() async throws {
        let s = try await RESTAPITests.serve()
        defer { Task { await RESTAPITests.stop(s) } }
        let c = s.cluster
        #expect(await LocalCluster.eventually { await c[0].peer.monitor.peers().count == 2 })
        let gone = c[1].id
        await c.kill(1)
        // Its ping has not expired yet: still in the peerset until removed.
        #expect(await c[0].peer.monitor.peers().contains(gone))
        #expect(await RESTAPITests.status(s, .DELETE, "/peers/\(gone)") == (204, ""))
        #expect(await !c[0].peer.monitor.peers().contains(gone))
        #expect(await c[0].peer.connections.peerstore.addresses(of: gone).isEmpty)
        for (path, code, words) in [
            ("/peers/\(c[0].id)", 400, "this peer"), ("/peers/\(gone)", 404, "not a peer"), ("/peers/nobody", 400, "not a peer ID"),
        ] {
            let (got, message) = await RESTAPITests.status(s, .DELETE, path)
            #expect(got == code && message.contains(words), "\(path): \(String(describing: got)) \(message)")
        }
    }
}

/// `Specs/openapi.yaml` and the router agree: every served route is documented and every
/// documented route is served.
@Suite struct OpenAPITests {
    /// "METHOD /path" for each operation under `paths:` (2-space path keys, 4-space methods).
    static func documented() throws -> Set<String> {
        let text = try String(contentsOf: Vectors.repositoryRoot.appendingPathComponent("Specs/openapi.yaml"), encoding: .utf8)
        var out = Set<String>()
        var inPaths = false
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") { inPaths = line == "paths:" }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let path {
                let key = line.dropFirst(4).prefix { $0 != ":" }
                if ["get", "post", "put", "delete", "patch"].contains(String(key)) { out.insert("\(key.uppercased()) \(path)") }
            }
        }
        return out
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteServed() async throws {
        let c = try await LocalCluster(peers: 1)
        defer { Task { await c.shutdown() } }
        let router = RESTAPIServer(peer: c[0].peer).router()
        // The router's `:name` parameters are OpenAPI's `{name}`; a catch-all `**` is `{path}`.
        let served = Set(router.routes.map { r in
            let path = "\(r.path)".split(separator: "/").map { p in
                p == "**" ? "{path}" : p.hasPrefix(":") ? "{\(p.dropFirst())}" : String(p)
            }
            return "\(r.method) /" + path.joined(separator: "/")
        })
        let documented = try Self.documented()
        #expect(documented.count >= 20)
        #expect(served.subtracting(documented).isEmpty, "served, not documented: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented, not served: \(documented.subtracting(served).sorted())")
    }
}

/// A short, bounded version of `pinmesh-bench load`: concurrent GET /pins streams while pins
/// arrive at a steady rate; no request fails and every pin is committed.
@Suite(.serialized) struct LoadTests {
    @Test func streamsAndPinsTogetherWithoutErrors() async throws {
        let s = try await RESTAPITests.serve(peers: 2)
        defer { Task { await RESTAPITests.stop(s) } }
        let c = s.cluster
        #expect(await LocalCluster.eventually { await c[0].peer.monitor.peers().count == 2 })
        let blocks = (0..<100).map { i -> Block in
            let bytes = Array("load \(i)".utf8)
            return Block(cid: CID.v1(codec: .raw, .sha256(bytes)), bytes: bytes)
        }
        _ = try await c[0].connector.blockPut(BlockList(blocks: blocks))
        var config = HTTPClient.Configuration()
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 200)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        defer { Task { try? await http.shutdown() } }
        let client = try ClusterClient(hosts: ["http://127.0.0.1:\(s.port)"], timeout: .seconds(120), client: http)
        let result = await LoadScenario(streams: 100, pinsPerSecond: 50, duration: .seconds(2)).run(
            pin: { i in _ = try await client.call(.POST, "/pins/\(blocks[i].cid)", query: [("replication", "1")]) },
            stream: {
                var lines = 0
                try await client.lines(.GET, "/pins") { _ in lines += 1 }
                return lines
            })
        #expect(result.pinErrors == 0 && result.streamErrors == 0, "\(result.firstError ?? "")")
        #expect(result.pinsDone == 100 && result.streamsRead >= 100)
        var pinned = 0
        try await c[0].peer.forEachPin { _ in pinned += 1 }
        #expect(pinned == 100)
    }
}

/// The streamed status reads the daemons' pins through a shared view refreshed every 2 s: a
/// pin removed behind the cluster's back shows as `unexpectedly_unpinned` there too.
@Suite struct SharedPinViewTests {
    @Test func aPinRemovedInIPFSShowsInTheStreamedStatus() async throws {
        let s = try await RESTAPITests.serve()
        defer { Task { await RESTAPITests.stop(s) } }
        let c = s.cluster
        #expect(await LocalCluster.eventually { await c[0].peer.monitor.peers().count == 2 })
        let cid = try await c.addFile(Array(repeating: 9, count: 3_000), to: 0)
        _ = try await s.client.decode(Pin.self, .POST, "/pins/\(cid)", query: [("replication", "-1")])
        func streamed() async throws -> [TrackerStatus] {
            let seen = NIOLockedValueBox<[TrackerStatus]>([])
            try await s.client.each(GlobalPinInfo.self, .GET, "/pins") { g in seen.withLockedValue { $0 += g.peerMap.values.map(\.status) } }
            return seen.withLockedValue { $0 }
        }
        #expect(try await LocalCluster.eventually { try await streamed() == [.pinned, .pinned] })
        try await c[1].connector.unpin(cid)
        #expect(try await LocalCluster.eventually { try await streamed().sorted { $0.rawValue < $1.rawValue } == [.pinned, .unexpectedlyUnpinned] })
    }
}
