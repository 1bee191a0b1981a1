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
import UnixFS

/// A temporary directory removed at deinit.
final class GatewayTempDir: @unchecked Sendable {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-gw-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A fetcher over blocks held in memory (another peer), counting what it is asked; with `hang`
/// it never answers (a peer that does not respond).
final class MemoryFetcher: BlockFetcher, @unchecked Sendable {
    private let lock = NSLock()
    private var blocks: [CID: [UInt8]] = [:]
    private var asked = 0
    let hang: Bool

    init(_ list: [Block] = [], hang: Bool = false) {
        for b in list { blocks[b.cid] = b.bytes }
        self.hang = hang
    }

    var fetches: Int { lock.withLock { asked } }

    func fetch(_ cid: CID) async throws -> [UInt8]? {
        lock.withLock { asked += 1 }
        if hang {
            // Nobody answers: wait until the caller gives up (cancels), as a silent network does.
            let (never, keep) = AsyncStream<Never>.makeStream()
            for await _ in never {}
            withExtendedLifetime(keep) {}
            try Task.checkCancellation()
            return nil
        }
        return lock.withLock { blocks[cid] }
    }
}

/// An embedded repository with its gateway on 127.0.0.1 (a port the OS picked), and a client.
final class LiveGateway: @unchecked Sendable {
    let dir: GatewayTempDir
    let repo: IPFSRepo
    let server: RunningApp
    static let http: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.redirectConfiguration = .disallow
        c.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: c)
    }()

    var base: String { "http://127.0.0.1:\(server.port)" }

    static func start(settings: GatewayServer.Settings = GatewayServer.Settings(), repo existing: IPFSRepo? = nil) async throws -> LiveGateway {
        let dir = GatewayTempDir()
        let repo: IPFSRepo
        if let existing {
            repo = existing
        } else {
            try IPFSRepo.initialize(at: dir.path)
            repo = try IPFSRepo(root: dir.path)
        }
        var logger = Logger(label: "test.gateway")
        logger.logLevel = .critical
        let server = try await RunningApp.start(logger: logger) { running in
            GatewayServer(repo: repo, settings: settings, logger: logger).application(host: "127.0.0.1", port: 0, onRunning: running)
        }
        return LiveGateway(dir: dir, repo: repo, server: server)
    }

    private init(dir: GatewayTempDir, repo: IPFSRepo, server: RunningApp) {
        self.dir = dir
        self.repo = repo
        self.server = server
    }

    func stop() async { await server.stop() }

    struct Reply {
        let status: Int
        let headers: HTTPHeaders
        let body: [UInt8]
        func header(_ name: String) -> String? { headers.first(name: name) }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// `method` `path` with `headers`; the whole body read (bounded by 30 s).
    func get(_ path: String, method: HTTPMethod = .GET, headers: [(String, String)] = []) async throws -> Reply {
        var req = HTTPClientRequest(url: base + path)
        req.method = method
        for (k, v) in headers { req.headers.add(name: k, value: v) }
        let res = try await Self.http.execute(req, timeout: .seconds(30))
        var body = ByteBuffer()
        for try await var part in res.body { body.writeBuffer(&part) }
        return Reply(status: Int(res.status.code), headers: res.headers, body: Array(buffer: body))
    }

    /// Stores `blocks` in the repository.
    func put(_ blocks: [Block]) throws { for b in blocks { try repo.put(b) } }
}

/// Fixtures: files and directories as kubo would import them.
enum Fixture {
    static func bytes(_ n: Int, seed: UInt64 = 1) -> [UInt8] {
        var rng = SeededBytes(seed)
        return (0..<n).map { _ in rng.next() }
    }

    /// A file imported with `settings` (default: CIDv1, raw leaves, 256 KiB chunks).
    static func file(_ data: [UInt8], settings: ImportSettings = ImportSettings(cidVersion: .v1)) throws -> (root: ImportedNode, blocks: [Block]) {
        try FileImporter.importBytes(data, settings: settings, keepBlocks: true)
    }

    /// A directory of `entries` (blocks appended to `blocks`).
    static func directory(
        _ entries: [(String, ImportedNode)], blocks: inout [Block], settings: ImportSettings = ImportSettings(cidVersion: .v1)
    ) throws -> ImportedNode {
        try DirectoryEncoder(encoder: NodeEncoder(settings: settings, keepBlocks: true))
            .directory(entries.map { DirectoryEntry(name: $0.0, node: $0.1) }, blocks: &blocks)
    }

    /// Decodes a CAR answer (every block verified); nil roots when malformed.
    static func readCAR(_ bytes: [UInt8]) throws -> (roots: [CID], blocks: [Block]) {
        var r = CARReader.verifying()
        r.feed(bytes)
        var out: [Block] = []
        while let b = try r.next() { out.append(b) }
        try r.finish()
        return (r.roots ?? [], out)
    }
}

/// xorshift64*: deterministic test bytes.
struct SeededBytes {
    var state: UInt64
    init(_ seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt8 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return UInt8(truncatingIfNeeded: (state &* 2_685_821_657_736_338_717) >> 56)
    }
}
