import Multiformats
import NIOCore
import NIOPosix
import Sodium
import Testing
@testable import Libp2p
@testable import Libp2pCore

@Suite("Two PinMesh libp2p hosts on loopback")
struct Libp2pHostTests {
    typealias S = Libp2pTestSupport

    @Test("a dial secures and muxes the connection, identify runs both ways, and ping round-trips")
    func connectIdentifyPing() async throws {
        let a = try await S.host(), b = try await S.host()
        var events = b.peerEvents().makeAsyncIterator()
        let peer = try await a.connect(try S.dialAddress(b))
        #expect(peer == b.peerID)
        #expect(await events.next() == .connected(a.peerID))
        await a.identified(b.peerID)
        await b.identified(a.peerID)
        #expect(a.protocols(of: b.peerID).contains("/ipfs/ping/1.0.0"))
        #expect(a.protocols(of: b.peerID).contains("/echo/1.0.0"))
        #expect(b.protocols(of: a.peerID).contains("/ipfs/id/1.0.0"))
        #expect(a.connectedPeers().map(\.agentVersion) == ["pinmesh-test/0.1"])
        #expect(a.connectedPeers().map(\.direction) == [.outbound])
        #expect(b.connectedPeers().map(\.direction) == [.inbound])
        #expect(try await S.ping(a, b.peerID))
        #expect(try await S.ping(b, a.peerID))
        #expect(try await a.connect(try S.dialAddress(b)) == b.peerID)
        #expect(a.connectedPeers().count == 1)
        await a.disconnect(b.peerID)
        #expect(await events.next() == .disconnected(a.peerID))
        await a.shutdown()
        await b.shutdown()
    }

    @Test("a stream echoes 1 MiB through flow control, and 64 streams at once each echo their own bytes")
    func echoes() async throws {
        let a = try await S.host(), b = try await S.host()
        try await a.connect(try S.dialAddress(b))
        var rng = SystemRandomNumberGenerator()
        let big = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let stream = try await a.newStream(to: b.peerID, protocols: ["/echo/1.0.0"])
        #expect(stream.protocolID == "/echo/1.0.0")
        #expect(try await S.echo(stream, big) == big)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for n in 0..<64 {
                group.addTask {
                    let data = [UInt8](repeating: UInt8(n), count: 10_000 + n)
                    let s = try await a.newStream(to: b.peerID, protocols: ["/echo/1.0.0"])
                    return try await S.echo(s, data) == data
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 64 && results.allSatisfy { $0 })
        await a.shutdown()
        await b.shutdown()
    }

    @Test("an unknown protocol gets na (the stream fails, the connection lives), and the next known one works")
    func unknownProtocol() async throws {
        let a = try await S.host(), b = try await S.host()
        try await a.connect(try S.dialAddress(b))
        await #expect(throws: Libp2pError.self) { _ = try await a.newStream(to: b.peerID, protocols: ["/nope/1.0.0", "/nope/2.0.0"]) }
        let s = try await a.newStream(to: b.peerID, protocols: ["/nope/1.0.0", "/echo/1.0.0"])
        #expect(s.protocolID == "/echo/1.0.0")
        #expect(try await S.echo(s, [1, 2, 3]) == [1, 2, 3])
        await a.shutdown()
        await b.shutdown()
    }

    @Test("a dial to the wrong /p2p/ ID fails, a refused port says so, and a bad address is refused")
    func dialFailures() async throws {
        let a = try await S.host(), b = try await S.host(), c = try await S.host()
        let wrong = try b.listenAddresses[0].appending(.p2p(c.peerID))
        await #expect { try await a.connect(wrong) } throws: { ($0 as? Libp2pError)?.message.contains("proved it is \(b.peerID)") == true }
        let port = b.listenAddresses[0]
        await b.shutdown()
        await #expect { try await a.connect(port) } throws: { ($0 as? Libp2pError)?.message.contains("connection refused") == true }
        await #expect(throws: Libp2pError.self) { try await a.connect(try Multiaddr("/ip4/127.0.0.1/udp/1/quic-v1")) }
        await #expect(throws: Libp2pError.self) { _ = try await a.newStream(to: c.peerID, protocols: ["/echo/1.0.0"]) }
        await a.shutdown()
        await c.shutdown()
    }

    @Test("a peer that stalls or sends garbage is dropped by the handshake timeout while another connects")
    func stalledPeerDropped() async throws {
        // 1 s: long enough for the honest dial below on a loaded 2-core machine.
        let b = try await S.host(dialTimeout: .seconds(1))
        let (host, port, _) = try Libp2pHost.tcpTarget(b.listenAddresses[0], purpose: "test")
        let stalled = try await ClientBootstrap(group: S.group).connect(host: host, port: port).get()
        let garbage = try await ClientBootstrap(group: S.group).connect(host: host, port: port).get()
        // The host may have dropped it already (the garbage is refused, or the deadline passed
        // on a loaded machine): either way it must end up closed, which is what is checked.
        try? await garbage.writeAndFlush(garbage.allocator.buffer(bytes: MultistreamMessage.encode("/multistream/1.0.0") + [200, 1, 2, 3]))
        let a = try await S.host()
        #expect(try await a.connect(try S.dialAddress(b)) == b.peerID)
        let closed = try await S.within(.seconds(5)) {
            try await stalled.closeFuture.get()
            try await garbage.closeFuture.get()
            return true
        }
        #expect(closed == true)
        #expect(try await S.ping(a, b.peerID))
        await a.shutdown()
        await b.shutdown()
    }

    @Test("a stream limit of 4 refuses the fifth stream, and a closed stream frees its place")
    func streamLimit() async throws {
        let a = try await S.host(maxStreams: 4), b = try await S.host()
        try await a.connect(try S.dialAddress(b))
        await a.identified(b.peerID)
        var open: [Libp2pStream] = []
        for _ in 0..<4 { open.append(try await a.newStream(to: b.peerID, protocols: ["/echo/1.0.0"])) }
        await #expect { _ = try await a.newStream(to: b.peerID, protocols: ["/echo/1.0.0"]) } throws: { ($0 as? Libp2pError)?.code == .limitReached }
        #expect(try await S.echo(open.removeFirst(), [7]) == [7])
        let fifth = try await a.newStream(to: b.peerID, protocols: ["/echo/1.0.0"])
        #expect(try await S.echo(fifth, [8]) == [8])
        await a.shutdown()
        await b.shutdown()
    }
}
