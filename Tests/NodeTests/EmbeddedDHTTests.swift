import ClusterTestKit
import EmbeddedIPFS
import Foundation
import Libp2p
import Logging
import Multiformats
import NIOPosix
import Node
import Testing
import UnixFS

/// Three embedded nodes on 127.0.0.1, as `pinmesh ipfs daemon` runs them: what one pins is
/// announced on the DHT, and another that was never connected to it pins it through the
/// peer both know (the kubo version of this is .ci/compat-dht). The seeker is a DHT client:
/// a server would be among the closest peers the hub names, and the provider would dial it
/// to announce the pin.
@Suite struct EmbeddedDHTTests {
    static func node(_ dir: URL, _ name: String, routing: String = "auto") async throws -> EmbeddedNode {
        let path = dir.appendingPathComponent(name).path
        var config = try IPFSRepo.initialize(at: path)
        config.Routing = .init(Type: routing)
        try config.write(path + "/config")
        let repo = try IPFSRepo(root: path)
        var logger = Logger(label: "test.dht")
        logger.logLevel = ProcessInfo.processInfo.environment["PINMESH_TEST_LOG"] == nil ? .critical : .debug
        let node = try EmbeddedNode(repo: repo, group: MultiThreadedEventLoopGroup.singleton, listen: [try Multiaddr("/ip4/127.0.0.1/tcp/0")], logger: logger)
        repo.setFetcher(node.fetcher)
        try await node.start()
        return node
    }

    @Test func aPinIsAnnouncedAndPinnedByANodeThatNeverMetItsProvider() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-dht-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let hub = try await Self.node(dir, "hub"), provider = try await Self.node(dir, "provider"), seeker = try await Self.node(dir, "seeker", routing: "dhtclient")
        for n in [provider, seeker] { try await n.host.connect(try n.addressOf(hub)) }
        // The hub's table has the provider (the client announces no DHT protocol); the leaves have the hub.
        #expect(try await LocalCluster.eventually(timeout: .seconds(30)) { hub.dht?.routingTableSize == 1 })
        #expect(try await LocalCluster.eventually(timeout: .seconds(30)) { seeker.dht?.routingTableSize == 1 })

        let bytes = (0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let (root, blocks) = try FileImporter.importBytes(bytes, settings: ImportSettings(), keepBlocks: true)
        for b in blocks { try provider.repo.put(b) }
        try await provider.repo.pin([root.cid], mode: .recursive(maxDepth: nil))
        // The pin's root is announced: the hub holds the record.
        #expect(try await LocalCluster.eventually(timeout: .seconds(30)) { hub.dht?.storedProviders(of: root.cid) == [provider.host.peerID] })

        #expect(!seeker.host.connectedPeers().contains { $0.peer == provider.host.peerID })
        try await seeker.repo.pin([root.cid], mode: .recursive(maxDepth: nil))
        #expect(try seeker.repo.pins.get(root.cid) != nil)
        #expect(try Exporter(blocks: RepoBlocks(seeker.repo)).cat(root.cid) == bytes)
        #expect(seeker.host.connectedPeers().contains { $0.peer == provider.host.peerID })

        // The RPC API's routing/findprovs names the provider, in kubo's event shape.
        let found = try await seeker.findProviders(root.cid, count: 5)
        #expect(found.map(\.peer).contains(provider.host.peerID))
        for n in [hub, provider, seeker] { await n.stop() }
    }
}

extension EmbeddedNode {
    func addressOf(_ other: EmbeddedNode) throws -> Multiaddr {
        try other.host.listenAddresses[0].appending(.p2p(other.host.peerID))
    }
}

/// The repository's blocks as the exporter reads them.
struct RepoBlocks: BlockGetter {
    let repo: IPFSRepo
    init(_ repo: IPFSRepo) { self.repo = repo }
    func block(_ cid: CID) throws(UnixFSError) -> [UInt8] {
        guard let b = repo.localBlock(cid) else { throw UnixFSError(.missingBlock, "\(cid) is not stored") }
        return b
    }
}
