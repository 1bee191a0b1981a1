import Datastore
import EmbeddedIPFS
import Foundation
import IPFSConnector
import Multiformats
import Testing
import UnixFS

/// The connector against the embedded node over real HTTP on loopback.
@Suite struct ConnectorTests {
    @Test func addressesAndErrorsAreTyped() async throws {
        #expect(throws: IPFSConnectorError.self) { _ = try KuboConnector(nodeMultiaddress: "localhost:5001") }
        #expect(throws: IPFSConnectorError.self) { _ = try KuboConnector(nodeMultiaddress: "/ip4/127.0.0.1/udp/5001") }
        #expect(try KuboConnector(nodeMultiaddress: "/dns4/ipfs.local/tcp/5001").baseURL == "http://ipfs.local:5001/api/v0/")
        #expect(try KuboConnector(nodeMultiaddress: "/ip6/::1/tcp/5001").baseURL == "http://[::1]:5001/api/v0/")
        // Nobody listens on port 1.
        // AsyncHTTPClient retries a refused connection until the call's deadline.
        var dead = try KuboConnector(nodeMultiaddress: "/ip4/127.0.0.1/tcp/1")
        dead.callTimeout = .milliseconds(500)
        do {
            _ = try await dead.id()
            Issue.record("a dead daemon answered")
        } catch let e as IPFSConnectorError {
            #expect(e.code == .unreachable)
        }
    }

    @Test func blocksPinsAndStats() async throws {
        let node = try await LiveNode.start()
        let conn = try KuboConnector(nodeMultiaddress: node.multiaddr)
        let id = try await conn.id()
        #expect(id.id == node.repo.peerID.description)

        // A DAG of raw leaves and dag-pb nodes: several formats in one streamed put.
        let dag = try sampleDAG(leaves: 400)
        let stored = try await conn.blockPut(AsyncStreamOf(dag.blocks))
        #expect(stored == dag.blocks.count)
        #expect(node.repo.stat().numObjects == dag.blocks.count)
        #expect(try await conn.blockGet(dag.root) == dag.blocks.last!.bytes)
        #expect(try await conn.blockStat(dag.root) == dag.blocks.last!.bytes.count)
        #expect(try await conn.blockStat(.v1(codec: .raw, .sha256([1, 2, 3]))) == nil)

        let seen = ProgressBox()
        try await conn.pin(dag.root, maxDepth: nil, name: "sample", inactivityTimeout: .seconds(5)) { seen.set($0) }
        #expect(try await conn.pinStatus(dag.root) == IPFSPinInfo(cid: dag.root, type: .recursive(maxDepth: nil), name: ""))
        let child = try PBNode(decoding: dag.blocks.last!.bytes).links[0].hash
        #expect(try await conn.pinStatus(child)?.type == .indirect(through: dag.root))
        #expect(try await conn.pinStatus(.v1(codec: .raw, .sha256([7]))) == nil)
        var listed: [IPFSPinInfo] = []
        for try await p in conn.pins(recursiveOnly: true) { listed.append(p) }
        #expect(listed.map(\.cid) == [dag.root])
        #expect(listed.first?.name == "sample")

        let other = try sampleDAG(seed: 4, leaves: 3)
        _ = try await conn.blockPut(AsyncStreamOf(other.blocks))
        try await conn.pinUpdate(from: dag.root, to: other.root, unpin: true)
        #expect(try await conn.pinStatus(dag.root) == nil)
        try await conn.unpin(other.root)
        do {
            try await conn.unpin(other.root)
            Issue.record("unpinning twice succeeded")
        } catch let e as IPFSConnectorError {
            #expect(e.code == .notPinned)
        }

        let stat = try await conn.repoStat()
        #expect(stat.numObjects == dag.blocks.count + other.blocks.count)
        #expect(stat.freeSpace == stat.storageMax - stat.repoSize)
        try backdate(node.repo)
        #expect(try await conn.repoGC() == dag.blocks.count + other.blocks.count)
        try await conn.swarmConnect("/ip4/10.0.0.1/tcp/4001/p2p/\(node.repo.peerID)")
    }

    @Test func depthLimitedAndResolve() async throws {
        let node = try await LiveNode.start()
        let conn = try KuboConnector(nodeMultiaddress: node.multiaddr)
        let dag = try sampleDAG(leaves: 400)
        let rootBytes = dag.blocks.last!.bytes
        let children = Set(try PBNode(decoding: rootBytes).links.map(\.hash))
        _ = try await conn.blockPut(AsyncStreamOf(dag.blocks.filter { $0.cid == dag.root || children.contains($0.cid) }))
        try await conn.pin(dag.root, maxDepth: 1, name: "", inactivityTimeout: .seconds(5)) { _ in }
        #expect(try await conn.pinStatus(dag.root)?.type == .recursive(maxDepth: 1))
        #expect(try await conn.resolve("/ipfs/\(dag.root)") == dag.root)
    }

    @Test func pinIsCancelledAfterInactivityNotBefore() async throws {
        let node = try await LiveNode.start()
        let conn = try KuboConnector(nodeMultiaddress: node.multiaddr)
        let dag = try sampleDAG(leaves: 5)
        try node.repo.put(dag.blocks.last!)
        let start = ContinuousClock.now
        do {
            try await conn.pin(dag.root, maxDepth: nil, name: "", inactivityTimeout: .milliseconds(400)) { _ in }
            Issue.record("a pin of missing blocks completed")
        } catch let e as IPFSConnectorError {
            #expect(e.code == .timeout)
        }
        #expect(ContinuousClock.now - start >= .milliseconds(400))
        // The server saw the client go: no pin, and nothing left waiting.
        #expect(try node.repo.pins.get(dag.root) == nil)
    }
}

/// An async sequence over an array (the blocks of an import).
struct AsyncStreamOf: AsyncSequence, Sendable {
    typealias Element = Block
    let items: [Block]
    init(_ items: [Block]) { self.items = items }
    struct AsyncIterator: AsyncIteratorProtocol {
        var rest: ArraySlice<Block>
        mutating func next() async -> Block? { rest.popFirst() }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: items[...]) }
}
