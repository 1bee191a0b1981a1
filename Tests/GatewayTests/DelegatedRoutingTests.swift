import AsyncHTTPClient
import ClusterTestKit
import EmbeddedIPFS
import Foundation
import Gateway
import Hummingbird
import Libp2p
import Logging
import Multiformats
import NIOCore
import NIOPosix
import Node
import Testing
import UnixFS

/// Log lines kept in memory (the client's notices are checked by their words).
final class KeptLogs: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [String] = []
    var lines: [String] { lock.withLock { kept } }
    func add(_ s: String) { lock.withLock { kept.append(s) } }

    struct Handler: LogHandler {
        let logs: KeptLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .notice
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
            logs.add("\(event.level) \(event.message) " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
    }

    var logger: Logger { Logger(label: "test.kept") { _ in Handler(logs: self) } }
}

/// Embedded nodes on 127.0.0.1 whose gateways serve /routing/v1, and the Routing V1 client
/// (`Routing.DelegatedRouters`) fetching through them.
@Suite("Delegated routing: the embedded node's /routing/v1 server and its Routing V1 client")
struct DelegatedRoutingTests {
    static func node(_ dir: URL, _ name: String, routing: String = "none", delegated: [String]? = nil) async throws -> EmbeddedNode {
        let path = dir.appendingPathComponent(name).path
        var config = try IPFSRepo.initialize(at: path)
        config.Routing = .init(Type: routing, DelegatedRouters: delegated)
        try config.write(path + "/config")
        let repo = try IPFSRepo(root: path)
        var logger = Logger(label: "test.delegated")
        logger.logLevel = ProcessInfo.processInfo.environment["PINMESH_TEST_LOG"] == nil ? .critical : .debug
        let node = try EmbeddedNode(repo: repo, group: MultiThreadedEventLoopGroup.singleton, listen: [try Multiaddr("/ip4/127.0.0.1/tcp/0")], logger: logger)
        repo.setFetcher(node.fetcher)
        try await node.start()
        return node
    }

    static func gateway(_ node: EmbeddedNode, settings: RoutingV1Settings = RoutingV1Settings()) async throws -> RunningApp {
        var logger = Logger(label: "test.delegated.gateway")
        logger.logLevel = .critical
        return try await RunningApp.start(logger: logger) { running in
            GatewayServer(repo: node.repo, routing: node, routingSettings: settings, logger: logger).application(host: "127.0.0.1", port: 0, onRunning: running)
        }
    }

    @Sendable static func body(_ status: HTTPResponse.Status, _ type: String?, _ bytes: [UInt8]) -> Response {
        var h = HTTPFields()
        if let type { h[.contentType] = type }
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func tempDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-delegated-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    static func file(_ n: Int, _ seed: Int) throws -> (root: CID, blocks: [Block], bytes: [UInt8]) {
        let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) }
        let (root, blocks) = try FileImporter.importBytes(bytes, settings: ImportSettings(), keepBlocks: true)
        return (root.cid, blocks, bytes)
    }

    @Test("a node without a DHT pins a file only another node holds, never connected to it, through that node's /routing/v1 (Routing.DelegatedRouters)")
    func fetchThroughARouter() async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let provider = try await Self.node(dir, "provider")
        let gateway = try await Self.gateway(provider)
        let seeker = try await Self.node(dir, "seeker", delegated: ["http://127.0.0.1:\(gateway.port)/"])
        #expect(seeker.dht == nil && seeker.delegated?.routers == ["http://127.0.0.1:\(gateway.port)"])
        let f = try Self.file(600_000, 3)
        for b in f.blocks { try provider.repo.put(b) }
        try await provider.repo.pin([f.root], mode: .recursive(maxDepth: nil))

        // The router names the provider (itself: it holds the block) at its listen address.
        let named = await seeker.delegated!.findProviders(f.root)
        #expect(named.map(\.id) == [provider.host.peerID])
        #expect(named.first?.multiaddrs == provider.host.listenAddresses)
        #expect(!seeker.host.connectedPeers().contains { $0.peer == provider.host.peerID })

        try await seeker.repo.pin([f.root], mode: .recursive(maxDepth: nil))
        #expect(try seeker.repo.pins.get(f.root) != nil)
        #expect(try Exporter(blocks: StoredBlocks(repo: seeker.repo)).cat(f.root) == f.bytes)
        #expect(seeker.host.connectedPeers().contains { $0.peer == provider.host.peerID })
        await gateway.stop()
        for n in [provider, seeker] { await n.stop() }
    }

    @Test("the server answers from the DHT: the records other peers gave it (with their addresses), and itself first for a block it holds")
    func answersFromTheDHT() async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let hub = try await Self.node(dir, "hub", routing: "auto"), provider = try await Self.node(dir, "provider", routing: "auto")
        try await provider.host.connect(hub.host.listenAddresses[0].appending(.p2p(hub.host.peerID)))
        #expect(try await LocalCluster.eventually(timeout: .seconds(30)) { hub.dht?.routingTableSize == 1 })
        let f = try Self.file(1000, 9)
        for b in f.blocks { try provider.repo.put(b) }
        try await provider.repo.pin([f.root], mode: .recursive(maxDepth: nil))
        #expect(try await LocalCluster.eventually(timeout: .seconds(30)) { hub.dht?.storedProviders(of: f.root) == [provider.host.peerID] })

        let gateway = try await Self.gateway(hub)
        let client = DelegatedRoutingClient(routers: ["http://127.0.0.1:\(gateway.port)"], logger: Logger(label: "test"))
        let found = await client.findProviders(f.root)
        #expect(found.map(\.id) == [provider.host.peerID])
        #expect(found.first?.multiaddrs.isEmpty == false)
        #expect(found.first?.protocols == [RoutingV1.bitswap])
        // A block the hub holds: the hub first, then the provider the DHT names.
        for b in f.blocks { try hub.repo.put(b) }
        #expect(await client.findProviders(f.root).map(\.id) == [hub.host.peerID, provider.host.peerID])
        await gateway.stop()
        for n in [hub, provider] { await n.stop() }
    }

    @Test("an answer is bounded in time: a provider source that never answers is cut at the lookup's timeout, with what was found by then")
    func boundedInTime() async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let node = try await Self.node(dir, "slow")
        node.setExtraProviders { _ in
            let (never, keep) = AsyncStream<Never>.makeStream()
            for await _ in never {}
            withExtendedLifetime(keep) {}
            return []
        }
        var settings = RoutingV1Settings()
        settings.timeout = .seconds(1)
        let gateway = try await Self.gateway(node, settings: settings)
        let f = try Self.file(100, 1)
        for b in f.blocks { try node.repo.put(b) }
        let client = DelegatedRoutingClient(routers: ["http://127.0.0.1:\(gateway.port)"], logger: Logger(label: "test"))
        let start = ContinuousClock.now
        #expect(await client.findProviders(f.root).map(\.id) == [node.host.peerID])
        #expect(ContinuousClock.now - start < .seconds(9))
        await gateway.stop()
        await node.stop()
    }

    @Test("the client: malformed answers, other statuses, a body over the limit and a router that never answers are each one notice naming the router, and no provider; 404 is an empty answer; good routers still count")
    func clientBounds() async throws {
        let peer = try PeerID(ed25519PublicKey: Array(repeating: 9, count: 32))
        let good = RoutingV1.json([RoutingProvider(id: peer, addrs: ["/ip4/127.0.0.1/tcp/1"], protocols: [RoutingV1.bitswap])])
        let router = Router()
        func route(_ name: String, _ answer: @escaping @Sendable () async -> Response) {
            router.get("\(name)/routing/v1/providers/:cid") { _, _ in await answer() }
        }
        route("good") { Self.body(.ok, RoutingV1.jsonType, good) }
        route("notjson") { Self.body(.ok, RoutingV1.jsonType, Array("<html>".utf8)) }
        route("badtype") { Self.body(.ok, "text/html", good) }
        route("error") { Self.body(.internalServerError, "text/plain", Array("boom".utf8)) }
        route("missing") { Self.body(.notFound, "text/plain", []) }
        route("big") { Self.body(.ok, RoutingV1.ndjsonType, Array(repeating: UInt8(ascii: "\n"), count: 70_000)) }
        route("bigchunked") {
            Response(status: .ok, headers: [.contentType: RoutingV1.ndjsonType], body: ResponseBody { out in
                for _ in 0..<100 { try await out.write(ByteBuffer(bytes: Array(repeating: UInt8(ascii: "\n"), count: 1000))) }
                try await out.finish(nil)
            })
        }
        // Answers only when the test ends (after every client gave up on it), so the server can stop.
        let release = Release()
        route("silent") {
            await release.wait()
            return Self.body(.ok, RoutingV1.jsonType, good)
        }
        route("skips") { Self.body(.ok, RoutingV1.ndjsonType, Array("{\"Schema\":\"other\"}\nnot json\n".utf8) + RoutingV1.ndjsonLines(RoutingProvider(id: peer, addrs: [], protocols: []))) }
        var quiet = Logger(label: "test.router")
        quiet.logLevel = .critical
        let app = try await RunningApp.start(logger: quiet) { running in
            Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { await running($0.localAddress?.port ?? 0) }, logger: quiet)
        }
        let base = "http://127.0.0.1:\(app.port)/"
        let cid = try CID("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4")
        var settings = DelegatedRoutingClient.Settings()
        settings.timeout = .seconds(2)
        settings.limits.maxBodyBytes = 64 << 10
        let expectations: [(String, Int, String?)] = [
            ("good", 1, nil), ("missing", 0, nil), ("notjson", 0, "the answer is not JSON"),
            ("badtype", 0, "Content-Type \"text/html\""), ("error", 0, "status 500"),
            ("big", 0, "over the 65536-byte limit"), ("bigchunked", 0, "over the 65536-byte limit"),
            ("silent", 0, "did not answer"), ("skips", 1, "skipped=2"),
        ]
        for (name, count, words) in expectations {
            let logs = KeptLogs()
            let client = DelegatedRoutingClient(routers: [base + name], settings: settings, logger: logs.logger)
            let start = ContinuousClock.now
            let found = await client.findProviders(cid)
            #expect(found.count == count, "\(name)")
            #expect(ContinuousClock.now - start < .seconds(20), "\(name)")
            if let words {
                #expect(logs.lines.count == 1 && logs.lines[0].contains(words) && logs.lines[0].contains("router=\(base + name)"), "\(name): \(logs.lines)")
            } else {
                #expect(logs.lines.isEmpty, "\(name): \(logs.lines)")
            }
        }
        // Several routers at once: the answers merge; the failing ones do not hold the good one back.
        let logs = KeptLogs()
        let all = DelegatedRoutingClient(routers: ["good", "error", "silent", "skips"].map { base + $0 }, settings: settings, logger: logs.logger)
        let merged = await all.findProviders(cid)
        #expect(merged == [RoutingProvider(id: peer, addrs: ["/ip4/127.0.0.1/tcp/1"], protocols: [RoutingV1.bitswap])])
        #expect(logs.lines.count == 3)
        release.open()
        await app.stop()
    }
}

/// Waiters held until ``open()``.
final class Release: @unchecked Sendable {
    private let lock = NSLock()
    private var opened = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = lock.withLock { () -> Bool in
                if opened { return true }
                waiting.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func open() {
        let all = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            opened = true
            defer { waiting = [] }
            return waiting
        }
        for c in all { c.resume() }
    }
}

/// The repository's blocks as the exporter reads them.
struct StoredBlocks: BlockGetter {
    let repo: IPFSRepo
    func block(_ cid: CID) throws(UnixFSError) -> [UInt8] {
        guard let b = repo.localBlock(cid) else { throw UnixFSError(.missingBlock, "\(cid) is not stored") }
        return b
    }
}
