import Datastore
import EmbeddedIPFS
import Foundation
import Hummingbird
import IPFSConnector
import Logging
import NIOCore
import NIOPosix
import Multiformats
import Testing
import ClusterTestKit
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
        let listed = PinList()
        try await conn.forEachPin(recursiveOnly: true) { listed.append($0) }
        #expect(listed.all.map(\.cid) == [dag.root])
        #expect(listed.all.first?.name == "sample")

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
        #expect(try await conn.repoGC(keepKeys: 0).removed == dag.blocks.count + other.blocks.count)
        // No libp2p host on this node: a connect is refused, never answered "success".
        do {
            try await conn.swarmConnect("/ip4/127.0.0.1/tcp/9/p2p/\(node.repo.peerID)")
            Issue.record("an offline node answered swarm/connect with success")
        } catch let e as IPFSConnectorError {
            #expect(e.message.contains("online mode"))
        }
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

final class PinList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [IPFSPinInfo] = []
    func append(_ p: IPFSPinInfo) { lock.withLock { items.append(p) } }
    var all: [IPFSPinInfo] { lock.withLock { items } }
}

/// The connector's requests, recorded by a stand-in daemon that answers as kubo's RPC reference
/// documents (not by PinMesh's server), so the request shapes are checked against kubo's API.
@Suite struct ConnectorRequestShapeTests {
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [String] = []
        func add(_ s: String) { lock.withLock { seen.append(s) } }
        var all: [String] { lock.withLock { seen } }
    }

    static let hello = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"

    static func start(_ recorder: Recorder) async throws -> (Int, RunningApp) {
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            recorder.add("\(request.method) \(request.uri.path)?\(request.uri.query ?? "")")
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            let body: String
            switch request.uri.path {
            case "/api/v0/id": body = "{\"ID\":\"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA\",\"PublicKey\":\"\",\"Addresses\":[\"/ip4/1.2.3.4/tcp/4001\"],\"AgentVersion\":\"kubo/0.38.0/\",\"Protocols\":[]}"
            case "/api/v0/pin/add": body = "{\"Progress\":1}\n{\"Pins\":[\"\(hello)\"],\"Progress\":1}"
            case "/api/v0/pin/ls":
                body = request.uri.query?.contains("stream=true") == true
                    ? "{\"Cid\":\"\(hello)\",\"Type\":\"recursive\"}\n{\"Cid\":\"bafkqaaa\",\"Type\":\"direct\",\"Name\":\"n\"}"
                    : "{\"Keys\":{\"\(hello)\":{\"Type\":\"recursive\"}}}"
            case "/api/v0/pin/rm": body = "{\"Pins\":[\"\(hello)\"]}"
            case "/api/v0/repo/stat": body = "{\"RepoSize\":10,\"StorageMax\":100,\"NumObjects\":1,\"RepoPath\":\"/x\",\"Version\":\"fs-repo@16\"}"
            case "/api/v0/repo/gc": body = "{\"Key\":{\"/\":\"bafkqaaa\"}}\n{\"Error\":\"\"}"
            default: body = "{}"
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body + "\n")))
        }
        var logger = Logger(label: "test.recorder")
        logger.logLevel = .critical
        let server = try await RunningApp.start(logger: logger) { running in
            Application(
                responder: responder, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { await running($0.localAddress?.port ?? 0) }, logger: logger)
        }
        return (server.port, server)
    }

    /// kubo repeats `{"Progress":N}` every 500 ms while a pin waits for blocks: a count that
    /// does not grow is not progress, and the pin still ends at its inactivity timeout.
    @Test func aRepeatedProgressCountIsNotActivity() async throws {
        let responder = CallbackResponder<BasicRequestContext> { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    while true {
                        try await writer.write(ByteBuffer(string: "{\"Progress\":1}\n"))
                        try await MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: .milliseconds(20)) {}.futureResult.get()
                    }
                })
        }
        var logger = Logger(label: "test.stuck")
        logger.logLevel = .critical
        let server = try await RunningApp.start(logger: logger) { running in
            Application(
                responder: responder, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { await running($0.localAddress?.port ?? 0) }, logger: logger)
        }
        defer { Task { await server.stop() } }
        let conn = try KuboConnector(nodeMultiaddress: "/ip4/127.0.0.1/tcp/\(server.port)")
        let start = ContinuousClock.now
        let cid = try CID(Self.hello)
        do {
            try await conn.pin(cid, maxDepth: nil, name: "", inactivityTimeout: Duration.milliseconds(400)) { _ in }
            Issue.record("a pin that made no progress completed")
        } catch let e as IPFSConnectorError {
            #expect(e.code == .timeout)
        }
        #expect(ContinuousClock.now - start < .seconds(20))
    }

    @Test func requestsFollowKubosRPCReference() async throws {
        let recorder = Recorder()
        let (port, server) = try await Self.start(recorder)
        defer { Task { await server.stop() } }
        let conn = try KuboConnector(nodeMultiaddress: "/ip4/127.0.0.1/tcp/\(port)")
        let cid = try CID(Self.hello)
        #expect(try await conn.id().addresses == ["/ip4/1.2.3.4/tcp/4001"])
        try await conn.pin(cid, maxDepth: nil, name: "my pin", inactivityTimeout: .seconds(5)) { _ in }
        try await conn.pin(cid, maxDepth: 0, name: "", inactivityTimeout: .seconds(5)) { _ in }
        try await conn.pin(cid, maxDepth: 3, name: "", inactivityTimeout: .seconds(5)) { _ in }
        #expect(try await conn.pinStatus(cid)?.type == .recursive(maxDepth: nil))
        let listed = PinList()
        try await conn.forEachPin(recursiveOnly: true) { listed.append($0) }
        #expect(listed.all.map(\.type) == [.recursive(maxDepth: nil), .direct])
        try await conn.unpin(cid)
        #expect(try await conn.repoStat().freeSpace == 90)
        #expect(try await conn.repoGC(keepKeys: 5).keys.count == 1)
        #expect(recorder.all == [
            "POST /api/v0/id?",
            "POST /api/v0/pin/add?arg=\(Self.hello)&recursive=true&progress=true&name=my%20pin",
            "POST /api/v0/pin/add?arg=\(Self.hello)&recursive=false&progress=true",
            "POST /api/v0/pin/add?arg=\(Self.hello)&recursive=true&progress=true&max-depth=3",
            "POST /api/v0/pin/ls?arg=\(Self.hello)&type=all",
            "POST /api/v0/pin/ls?type=recursive&stream=true&names=true",
            "POST /api/v0/pin/rm?arg=\(Self.hello)",
            "POST /api/v0/repo/stat?size-only=false",
            "POST /api/v0/repo/gc?",
        ])
    }
}
