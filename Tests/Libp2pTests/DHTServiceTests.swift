import ClusterTestKit
import DHT
import Logging
import Multiformats
import Testing
@testable import Libp2p

/// The DHT over real libp2p hosts on 127.0.0.1: tables from identify, lookups over streams,
/// provider records stored by the closest peers and found by a peer that never met the provider.
@Suite struct DHTServiceTests {
    struct Node {
        let host: Libp2pHost
        let dht: DHTService
    }

    static func node(mode: DHTSettings.Mode = .lanServer) async throws -> Node {
        let host = try await Libp2pTestSupport.host()
        var settings = DHTSettings()
        settings.mode = mode
        settings.requestTimeout = .seconds(10)
        let dht = DHTService(
            host: host, settings: settings, logger: Logger(label: "dht-test"), selfAddresses: { host.listenAddresses },
            hasLocally: { _ in false })
        dht.start()
        return Node(host: host, dht: dht)
    }

    static func stop(_ nodes: [Node]) async {
        for n in nodes {
            n.dht.stop()
            await n.host.shutdown()
        }
    }

    @Test func aProviderIsFoundThroughAPeerBothKnow() async throws {
        let hub = try await Self.node()
        var leaves: [Node] = []
        for _ in 0..<3 { leaves.append(try await Self.node()) }
        for l in leaves { try await l.host.connect(try Libp2pTestSupport.dialAddress(hub.host)) }
        #expect(try await BitswapTestSupport.eventually(within: .seconds(30)) { hub.dht.routingTableSize == 3 })
        for l in leaves { #expect(try await BitswapTestSupport.eventually(within: .seconds(30)) { l.dht.routingTableSize >= 1 }) }

        let cid = CID.v1(codec: .raw, Multihash.sha256(Array("provided by leaf 0".utf8)))
        let took = await leaves[0].dht.provide(cid)
        #expect(took >= 1)
        #expect(hub.dht.storedProviders(of: cid) == [leaves[0].host.peerID])

        // A newcomer that knows only the hub finds leaf 0 as the provider, with its address.
        let newcomer = try await Self.node()
        try await newcomer.host.connect(try Libp2pTestSupport.dialAddress(hub.host))
        #expect(try await BitswapTestSupport.eventually(within: .seconds(30)) { newcomer.dht.routingTableSize >= 1 })
        #expect(!newcomer.host.connectedPeers().contains { $0.peer == leaves[0].host.peerID })
        let found = await newcomer.dht.findProviders(cid, enough: 1)
        #expect(found.map(\.id) == [leaves[0].host.peerID])
        #expect(found.first?.addresses.contains(leaves[0].host.listenAddresses[0]) == true)
        // Its address is learnt: a stream to it dials it.
        let stream = try await newcomer.host.newStream(to: leaves[0].host.peerID, protocols: ["/echo/1.0.0"])
        #expect(try await Libp2pTestSupport.echo(stream, [1, 2, 3]) == [1, 2, 3])

        // Nobody provides this one: the lookup ends with nothing, within its bound.
        let none = await newcomer.dht.findProviders(CID.v1(codec: .raw, Multihash.sha256([9])), enough: 1)
        #expect(none.isEmpty)
        await Self.stop([hub, newcomer] + leaves)
    }

    @Test func aClientIsNotInOthersTablesAndMalformedRequestsResetTheStream() async throws {
        let server = try await Self.node()
        let client = try await Self.node(mode: .client)
        try await client.host.connect(try Libp2pTestSupport.dialAddress(server.host))
        #expect(try await BitswapTestSupport.eventually(within: .seconds(30)) { client.dht.routingTableSize == 1 })
        #expect(await server.host.waitForIdentify(client.host.peerID, timeout: .seconds(30)))
        #expect(server.dht.routingTableSize == 0)
        #expect(!client.host.protocols(of: server.host.peerID).isEmpty)

        // Garbage in a length prefix: the server resets the stream, and still answers the next.
        let bad = try await client.host.newStream(to: server.host.peerID, protocols: [DHTSettings.lanProtocol])
        try await bad.writeMessage([0x08, 0x63])
        await #expect(throws: (any Error).self) { _ = try await bad.readMessage(maxLength: 1 << 20) }
        let ping = try await client.dht.request(DHTMessage(type: .ping), to: server.host.peerID, answered: true)
        #expect(ping?.type == .ping)
        // A FIND_NODE for the client itself never lists the asker.
        let find = try await client.dht.request(DHTMessage(type: .findNode, key: client.host.peerID.bytes), to: server.host.peerID, answered: true)
        #expect(find?.closerPeers.contains { $0.id == client.host.peerID } == false)
        await Self.stop([server, client])
    }

    @Test func streamsOverThePerPeerLimitAreReset() async throws {
        let server = try await Self.node()
        let client = try await Self.node(mode: .client)
        try await client.host.connect(try Libp2pTestSupport.dialAddress(server.host))
        var open: [Libp2pStream] = []
        for _ in 0..<server.dht.settings.maxInboundStreamsPerPeer {
            let s = try await client.host.newStream(to: server.host.peerID, protocols: [DHTSettings.lanProtocol])
            try await s.writeMessage(DHTMessage(type: .ping).encoded())
            #expect(try await s.readMessage(maxLength: 1 << 20) != nil)
            open.append(s)
        }
        let extra = try await client.host.newStream(to: server.host.peerID, protocols: [DHTSettings.lanProtocol])
        try? await extra.writeMessage(DHTMessage(type: .ping).encoded())
        await #expect(throws: (any Error).self) { _ = try await extra.readMessage(maxLength: 1 << 20) }
        for s in open { await s.closeWrite() }
        await Self.stop([server, client])
    }
}
