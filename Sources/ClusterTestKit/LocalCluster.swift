import ClusterModel
public import EmbeddedIPFS
import Foundation
import Hummingbird
public import IPFSConnector
import Logging
public import Multiformats
public import NIOCore
import NIOPosix
public import Node
public import Sodium
public import UnixFS

/// N real cluster peers in this process, on 127.0.0.1 with OS-assigned ports, each with its
/// own embedded IPFS node serving kubo's RPC API over HTTP and the peer fetching missing
/// blocks from the others. Peers can be killed and restarted (same identity, data and port).
/// Every wait is bounded; nothing sleeps.
public final class LocalCluster: @unchecked Sendable {
    public final class Member: @unchecked Sendable {
        public let index: Int
        public let identity: Ed25519.PrivateKey
        public let directory: String
        public internal(set) var peer: ClusterPeer
        public internal(set) var repo: IPFSRepo
        public internal(set) var ipfsPort: Int
        public internal(set) var connector: KuboConnector
        /// The embedded node's libp2p side (a cluster started with `libp2p: true`).
        public internal(set) var node: EmbeddedNode?
        var ipfsServer: RunningApp
        public internal(set) var running = true
        public var id: PeerID { peer.me }
        public var address: Multiaddr {
            get async { try! Multiaddr("/ip4/127.0.0.1/tcp/\(await peer.listenPort)/p2p/\(peer.me)") }
        }

        init(index: Int, identity: Ed25519.PrivateKey, directory: String, started: Started) {
            self.index = index
            self.identity = identity
            self.directory = directory
            peer = started.peer
            repo = started.repo
            ipfsPort = started.ipfsPort
            connector = started.connector
            node = started.node
            ipfsServer = started.server
        }
    }

    struct Started {
        let peer: ClusterPeer
        let repo: IPFSRepo
        let ipfsPort: Int
        let connector: KuboConnector
        let node: EmbeddedNode?
        let server: RunningApp
    }

    /// What the embedded nodes run: their libp2p host and bitswap (on 127.0.0.1, a port the OS
    /// picks), and a change to each repository's config before it opens (`Peering.Peers`, …).
    public struct IPFSOptions: Sendable {
        public var libp2p = false
        public var config: (@Sendable (Int, inout RepoConfig) -> Void)?
        public init(libp2p: Bool = false, config: (@Sendable (Int, inout RepoConfig) -> Void)? = nil) {
            self.libp2p = libp2p
            self.config = config
        }
    }

    public static let group: any EventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    public let root: String
    public let secret: SecureBytes
    public private(set) var members: [Member] = []
    let tweak: @Sendable (inout ClusterPeer.Settings) -> Void
    /// Each embedded IPFS node's `StorageMax` in bytes (nil: the repository's default).
    let storageMax: UInt64?
    let ipfs: IPFSOptions

    /// Settings sized for tests on a loaded 2-core machine: pings every 500 ms valid 1.5 s,
    /// checked every 200 ms (a dead peer is noticed within 1.7 s); a peer down 1 s has its pins
    /// re-allocated; heads re-announced every 200 ms.
    public static func testSettings(_ s: inout ClusterPeer.Settings) {
        s.clusterName = "localcluster"
        s.monitor.pingInterval = .milliseconds(500)
        s.monitor.checkInterval = .milliseconds(200)
        s.monitor.informerTTL = .milliseconds(1500)
        s.repinningDelay = .seconds(1)
        s.pinset.announceInterval = .milliseconds(200)
        s.expiryInterval = .milliseconds(200)
        s.connections.keepaliveInterval = .milliseconds(500)
        s.connections.keepaliveTimeout = .seconds(2)
        s.replicationMin = -1
        s.replicationMax = -1
        s.connectSwarmsDelay = .seconds(1)
    }

    /// Starts `count` peers; every peer after the first bootstraps through the first.
    public init(
        peers count: Int, secret: SecureBytes = SecureBytes(SodiumRandom.bytes(32)), identities: [Ed25519.PrivateKey] = [],
        storageMax: UInt64? = nil, ipfs: IPFSOptions = IPFSOptions(), tweak: @escaping @Sendable (inout ClusterPeer.Settings) -> Void = { _ in }
    ) async throws {
        root = NSTemporaryDirectory() + "pinmesh-cluster-\(UUID().uuidString.prefix(8))"
        self.secret = secret
        self.tweak = tweak
        self.storageMax = storageMax
        self.ipfs = ipfs
        for i in 0..<count { _ = try await add(index: i, identity: i < identities.count ? identities[i] : nil) }
    }

    /// Adds one more peer (bootstrapping through the first); returns it.
    @discardableResult
    /// `tweak` replaces the cluster's settings tweak for this peer (a misconfigured or rogue peer).
    public func addPeer(
        secret other: SecureBytes? = nil, identity: Ed25519.PrivateKey? = nil, tweak own: (@Sendable (inout ClusterPeer.Settings) -> Void)? = nil
    ) async throws -> Member {
        try await add(index: members.count, secret: other, identity: identity, tweak: own)
    }

    private func add(
        index: Int, secret other: SecureBytes? = nil, identity: Ed25519.PrivateKey? = nil,
        tweak own: (@Sendable (inout ClusterPeer.Settings) -> Void)? = nil
    ) async throws -> Member {
        let identity = identity ?? Ed25519.PrivateKey.generate()
        let dir = root + "/peer\(index)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let bootstrap = members.isEmpty ? [] : [await members[0].address]
        let started = try await Self.launch(
            index: index, identity: identity, directory: dir, secret: other ?? secret, bootstrap: bootstrap, port: 0, storageMax: storageMax,
            ipfs: ipfs, tweak: own ?? tweak)
        let m = Member(index: index, identity: identity, directory: dir, started: started)
        members.append(m)
        return m
    }

    static func launch(
        index: Int, identity: Ed25519.PrivateKey, directory: String, secret: SecureBytes, bootstrap: [Multiaddr], port: Int, storageMax: UInt64?,
        ipfs: IPFSOptions, tweak: (inout ClusterPeer.Settings) -> Void
    ) async throws -> Started {
        let ipfsDir = directory + "/ipfs"
        var config = try IPFSRepo.initialize(at: ipfsDir)
        if let change = ipfs.config {
            change(index, &config)
            try config.write(ipfsDir + "/config")
        }
        let repo = try IPFSRepo(root: ipfsDir, storageMax: storageMax)
        var quiet = Logger(label: "test.cluster")
        quiet.logLevel = ProcessInfo.processInfo.environment["PINMESH_TEST_LOG"] == nil ? .critical : .debug
        var node: EmbeddedNode?
        if ipfs.libp2p {
            node = try EmbeddedNode(repo: repo, group: group, listen: [try Multiaddr("/ip4/127.0.0.1/tcp/0")], logger: quiet)
            try await node?.start()
        }
        let swarm = node
        let server = try await RunningApp.start(logger: quiet) { running in
            KuboRPCServer(repo: repo, swarm: swarm, logger: quiet).application(host: "127.0.0.1", port: 0, onRunning: running)
        }
        let ipfsPort = server.port
        let connector = try KuboConnector(nodeMultiaddress: "/ip4/127.0.0.1/tcp/\(ipfsPort)", logger: quiet)
        var s = ClusterPeer.Settings(dataDirectory: directory)
        s.peername = "peer\(index)"
        s.listenPort = port
        s.bootstrap = bootstrap
        testSettings(&s)
        tweak(&s)
        let peer = try ClusterPeer(
            settings: s, identity: identity, secret: secret, connector: connector, group: group,
            localBlocks: { cid in repo.blocks.has(cid) ? try repo.block(cid) : nil }, blockStore: LocalBlockStore(repo: repo), logger: quiet)
        PeerBlockFetcher.install(on: repo, transport: peer.transport, network: node?.fetcher, logger: quiet)
        node?.useAllocations(of: peer)
        try await peer.start()
        return Started(peer: peer, repo: repo, ipfsPort: ipfsPort, connector: connector, node: node, server: server)
    }

    /// Stops peer `i` and its IPFS node, as a crash would leave them (no goodbye).
    public func kill(_ i: Int) async {
        let m = members[i]
        guard m.running else { return }
        m.running = false
        await m.peer.stop()
        await m.ipfsServer.stop()
        await m.node?.stop()
        m.repo.releaseLock()
    }

    /// Starts peer `i` again: same identity, data, port; bootstraps through a running peer.
    public func restart(_ i: Int) async throws {
        let m = members[i]
        guard !m.running else { return }
        let port = await m.peer.listenPort
        var bootstrap: [Multiaddr] = []
        if let other = members.first(where: { $0.running }) { bootstrap = [await other.address] }
        let started = try await Self.launch(
            index: i, identity: m.identity, directory: m.directory, secret: secret, bootstrap: bootstrap, port: port, storageMax: storageMax,
            ipfs: ipfs, tweak: tweak)
        m.peer = started.peer
        m.node = started.node
        m.repo = started.repo
        m.ipfsPort = started.ipfsPort
        m.connector = started.connector
        m.ipfsServer = started.server
        m.running = true
    }

    /// Stops every peer and removes the directories.
    public func shutdown() async {
        for i in members.indices { await kill(i) }
        try? FileManager.default.removeItem(atPath: root)
    }

    public subscript(_ i: Int) -> Member { members[i] }

    /// Re-checks `condition` every 20 ms (an event-loop timer, not a sleep) until it holds or
    /// `timeout` passes; returns whether it held.
    public static func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await group.next().scheduleTask(in: .milliseconds(20)) {}.futureResult.get()
        }
        return try await condition()
    }

    /// Adds `bytes` as a file to peer `i`'s IPFS node (`ipfs add`'s default DAG, blocks stored
    /// with `block/put`, not pinned); returns the root CID.
    public func addFile(_ bytes: [UInt8], to i: Int) async throws -> CID {
        let (root, blocks) = try FileImporter.importBytes(bytes, settings: ImportSettings(), keepBlocks: true)
        _ = try await members[i].connector.blockPut(BlockList(blocks: blocks))
        return root.cid
    }
}

/// Blocks as an `AsyncSequence`, for `blockPut`.
public struct BlockList: AsyncSequence, Sendable {
    public typealias Element = Block
    let blocks: [Block]
    public init(blocks: [Block]) { self.blocks = blocks }
    public struct AsyncIterator: AsyncIteratorProtocol {
        var rest: ArraySlice<Block>
        public mutating func next() async -> Block? { rest.popFirst() }
    }
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: blocks[...]) }
}
