import EmbeddedIPFS
import Foundation
import Multiformats
import Testing

/// `routing/findprovs` and `routing/provide` in kubo's shapes, over a swarm whose DHT answers
/// are fixed here (the DHT itself: Tests/NodeTests/EmbeddedDHTTests, .ci/compat-dht).
@Suite struct RoutingCommandTests {
    final class FixedRouting: IPFSSwarm, @unchecked Sendable {
        let providers: [(peer: PeerID, addresses: [Multiaddr])]
        let takers: Int
        var provided: [CID] = []
        init(providers: [(peer: PeerID, addresses: [Multiaddr])], takers: Int) {
            self.providers = providers
            self.takers = takers
        }
        var addresses: [Multiaddr] { [] }
        var protocols: [String] { [] }
        var agentVersion: String { "test" }
        func connect(_ address: Multiaddr) async throws -> PeerID { throw RoutingOff() }
        func disconnect(_ peer: PeerID) async throws {}
        func peers() -> [IPFSSwarmPeer] { [] }
        func findProviders(_ cid: CID, count: Int) async throws -> [(peer: PeerID, addresses: [Multiaddr])] { Array(providers.prefix(count)) }
        func provide(_ cid: CID) async throws -> Int {
            provided.append(cid)
            return takers
        }
    }

    static let peer = try! PeerID("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA")
    static let cid = "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"

    @Test func findprovsStreamsOneProviderEventEach() async throws {
        let routing = FixedRouting(providers: [(Self.peer, [try Multiaddr("/ip4/10.0.0.1/tcp/4001")])], takers: 1)
        let node = try await LiveNode.start(swarm: routing)
        let r = try await node.call("routing/findprovs", "arg=\(Self.cid)")
        #expect(r.status == 200)
        #expect(String(decoding: r.body, as: UTF8.self)
            == "{\"Extra\":\"\",\"ID\":\"\",\"Responses\":[{\"Addrs\":[\"/ip4/10.0.0.1/tcp/4001\"],\"ID\":\"\(Self.peer)\"}],\"Type\":4}\n")
        let old = try await node.call("dht/findprovs", "arg=\(Self.cid)&num-providers=1")
        #expect(old.body == r.body)
        #expect(try await node.call("routing/findprovs", "arg=not-a-cid").status == 400)
        #expect(try await node.call("routing/findprovs", "arg=\(Self.cid)&n=0").status == 400)
        #expect(try await node.call("routing/findprovs").status == 400)
    }

    @Test func provideAnnouncesStoredBlocksAndSaysWhenNobodyTookIt() async throws {
        let routing = FixedRouting(providers: [], takers: 0)
        let node = try await LiveNode.start(swarm: routing)
        let added = try await node.call("add", parts: [.init(name: "hello", bytes: Array("hello\n".utf8))])
        let cid = try #require(added.lines.last?["Hash"].string)
        let lonely = try await node.call("routing/provide", "arg=\(cid)")
        #expect(lonely.status == 500 && lonely.json["Message"].string == "failed to find any peer in table")
        let missing = try await node.call("routing/provide", "arg=QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn")
        #expect(missing.status == 500 && missing.json["Message"].string?.contains("not found locally") == true)
        // A node without a libp2p host cannot route.
        let offline = try await LiveNode.start()
        let r = try await offline.call("routing/findprovs", "arg=\(cid)")
        #expect(r.status == 500 && r.json["Message"].string?.contains("online mode") == true)
    }
}
