import ClusterTestKit
import Multiformats
import Testing
@testable import Libp2p

/// Our host against a real kubo 0.22 (Tests/Compat/kubo_peer.py); skipped when python3 or the
/// kubo library (`bash .ci/kubo`, or PINMESH_KUBO_PATH) is missing.
@Suite("PinMesh's libp2p host against a real kubo", .disabled(if: KuboPeer.availability() != nil, Comment(rawValue: KuboPeer.availability() ?? "")))
struct Libp2pKuboInteropTests {
    typealias S = Libp2pTestSupport

    @Test("our host dials kubo: Noise, yamux, identify gives kubo's agent and protocols, ping round-trips")
    func weDialKubo() async throws {
        let kubo = try await KuboPeer.start()
        let host = try await S.host()
        let peer = try await host.connect(kubo.dialAddress)
        #expect(peer == kubo.id)
        let identified = try await S.within(.seconds(20)) { await host.identified(kubo.id); return true }
        #expect(identified == true)
        let agent = host.connectedPeers().first?.agentVersion ?? ""
        #expect(agent.hasPrefix("kubo/0.22"), "agent \(agent)")
        let protocols = host.protocols(of: kubo.id)
        #expect(protocols.contains("/ipfs/ping/1.0.0"))
        #expect(protocols.contains("/ipfs/bitswap/1.2.0"))
        #expect(protocols.contains("/ipfs/id/1.0.0"))
        #expect(try await S.ping(host, kubo.id))
        #expect(try await S.ping(host, kubo.id))
        let kuboPeers = try await kubo.peers()
        #expect(kuboPeers.contains { $0.peerID == host.peerID })
        await host.shutdown()
        _ = await kubo.stop()
    }

    @Test("kubo dials our host, lists us among its peers, and identify runs on the inbound connection")
    func kuboDialsUs() async throws {
        let kubo = try await KuboPeer.start()
        let host = try await S.host()
        var events = host.peerEvents().makeAsyncIterator()
        try await kubo.connect(try S.dialAddress(host))
        #expect(await events.next() == .connected(kubo.id))
        let kuboPeers = try await kubo.peers()
        #expect(kuboPeers.contains { $0.peerID == host.peerID })
        #expect(host.connectedPeers().map(\.direction) == [.inbound])
        let identified = try await S.within(.seconds(20)) { await host.identified(kubo.id); return true }
        #expect(identified == true)
        #expect(host.protocols(of: kubo.id).contains("/ipfs/bitswap/1.2.0"))
        #expect(try await S.ping(host, kubo.id))
        await host.shutdown()
        _ = await kubo.stop()
    }
}
