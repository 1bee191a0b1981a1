import Gossip
import Multiformats
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Node
import SecureChannel
import Sodium
import Testing
import Transport

/// Pubsub over the real transport: several peers on 127.0.0.1, OS-assigned ports.
/// Waits are bounded by deadlines scheduled on an event loop, never by sleeping.
@Suite struct PubSubServiceTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    static let secret = SecureBytes([UInt8](repeating: 0x42, count: 32))
    let topic = "pinset/test"

    struct Peer {
        let transport: SecureTransport
        let pubsub: PubSubService
        let address: Multiaddr
    }

    static func peer() async throws -> Peer {
        let key = Ed25519.PrivateKey.generate()
        let transport = SecureTransport(settings: HandshakeSettings(clusterSecret: secret, identity: key), group: group)
        let pubsub = try PubSubService(transport: transport, identity: key)
        await pubsub.start()
        let port = try await transport.listen()
        return Peer(transport: transport, pubsub: pubsub, address: try Multiaddr("/ip4/127.0.0.1/tcp/\(port)/p2p/\(transport.localPeer)"))
    }

    static func cluster(_ n: Int) async throws -> [Peer] {
        var peers: [Peer] = []
        for _ in 0..<n { peers.append(try await peer()) }
        for i in 0..<n { for j in (i + 1)..<n { _ = try await peers[i].transport.dial(peers[j].address) } }
        return peers
    }

    static func shutdown(_ peers: [Peer]) async {
        for p in peers {
            await p.pubsub.stop()
            await p.transport.shutdown()
        }
    }

    /// The first `count` messages of `stream`, or fewer if `timeout` passes first.
    static func collect(_ stream: AsyncStream<GossipMessage>, count: Int, timeout: TimeAmount = .seconds(10)) async -> [GossipMessage] {
        let loop = group.next()
        let box = NIOLockedValueBox<[GossipMessage]>([])
        let finished = NIOLockedValueBox(false)
        let done = loop.makePromise(of: Void.self)
        @Sendable func finish() {
            if finished.withLockedValue({ was in defer { was = true }; return !was }) { done.succeed(()) }
        }
        let reader = Task {
            for await m in stream {
                if box.withLockedValue({ $0.append(m); return $0.count }) >= count { return finish() }
            }
        }
        loop.scheduleTask(in: timeout) { finish() }
        try? await done.futureResult.get()
        reader.cancel()
        return box.withLockedValue { $0 }
    }

    /// Re-checks `condition` every 10 ms (an event-loop timer) until it holds or `timeout` passes.
    static func eventually(timeout: TimeAmount = .seconds(20), _ condition: @Sendable () async -> Bool) async -> Bool {
        let deadline = NIODeadline.now() + timeout
        while NIODeadline.now() < deadline {
            if await condition() { return true }
            try? await group.next().scheduleTask(in: .milliseconds(10)) {}.futureResult.get()
        }
        return await condition()
    }

    @Test func fourPeersDeliverEverySmallAndLargeMessage() async throws {
        let peers = try await Self.cluster(4)
        var streams: [AsyncStream<GossipMessage>] = []
        for p in peers { streams.append(await p.pubsub.subscribe(topic)) }
        for p in peers { #expect(await p.pubsub.waitForPeers(subscribedTo: topic, count: 3, timeout: .seconds(5))) }
        // 30 small messages (datagrams) and 3 of 20 KiB (too large for a datagram: TCP).
        var sent: Set<[UInt8]> = []
        for k in 0..<33 {
            let data = [UInt8](repeating: UInt8(k), count: k < 30 ? 100 : 20_480)
            sent.insert(data)
            try await peers[0].pubsub.publish(topic, data)
        }
        for i in 1..<4 {
            let got = await Self.collect(streams[i], count: 33)
            #expect(Set(got.map(\.data)) == sent, "peer \(i) got \(got.count) of 33")
            #expect(got.allSatisfy { $0.from == peers[0].transport.localPeer && $0.hasValidSignature })
        }
        // The mesh forms at the heartbeats after the subscriptions are known.
        #expect(await Self.eventually { await peers[0].pubsub.meshPeers(topic).count == 3 })
        await Self.shutdown(peers)
    }

    @Test func messagesRelayAcrossAChainAndValidatorsFilter() async throws {
        // a — b — c: c hears a only through b.
        let peers = [try await Self.peer(), try await Self.peer(), try await Self.peer()]
        _ = try await peers[0].transport.dial(peers[1].address)
        _ = try await peers[1].transport.dial(peers[2].address)
        await peers[2].pubsub.setValidator(topic) { $0.data.first == 0xBA ? .reject : .accept }
        let atC = await peers[2].pubsub.subscribe(topic)
        _ = await peers[1].pubsub.subscribe(topic)
        _ = await peers[0].pubsub.subscribe(topic)
        #expect(await peers[0].pubsub.waitForPeers(subscribedTo: topic, count: 1, timeout: .seconds(5)))
        #expect(await peers[1].pubsub.waitForPeers(subscribedTo: topic, count: 2, timeout: .seconds(5)))
        #expect(await Self.eventually { await peers[1].pubsub.meshPeers(topic).count == 2 })
        try await peers[0].pubsub.publish(topic, [0xBA, 1])
        try await peers[0].pubsub.publish(topic, [7])
        let got = await Self.collect(atC, count: 1)
        #expect(got.map(\.data) == [[7]])
        #expect(await peers[2].pubsub.counters.rejected == 1)
        await Self.shutdown(peers)
    }

    @Test func unsubscribingIsAnnounced() async throws {
        let peers = try await Self.cluster(2)
        _ = await peers[0].pubsub.subscribe(topic)
        _ = await peers[1].pubsub.subscribe(topic)
        #expect(await peers[0].pubsub.waitForPeers(subscribedTo: topic, count: 1, timeout: .seconds(5)))
        await peers[1].pubsub.unsubscribe(topic)
        #expect(await Self.eventually { await peers[0].pubsub.peers(subscribedTo: topic).isEmpty })
        await Self.shutdown(peers)
    }

    @Test func aPeerThatLeavesIsForgotten() async throws {
        let peers = try await Self.cluster(3)
        for p in peers { _ = await p.pubsub.subscribe(topic) }
        #expect(await peers[0].pubsub.waitForPeers(subscribedTo: topic, count: 2, timeout: .seconds(5)))
        await peers[2].pubsub.stop()
        await peers[2].transport.shutdown()
        #expect(await Self.eventually { await peers[0].pubsub.peers(subscribedTo: topic) == [peers[1].transport.localPeer] })
        await Self.shutdown(Array(peers.prefix(2)))
    }

    @Test func messageLimitIsCheckedAtTheLimit() async throws {
        let key = Ed25519.PrivateKey.generate()
        let transport = SecureTransport(settings: HandshakeSettings(clusterSecret: Self.secret, identity: key), group: Self.group)
        var settings = GossipSettings()
        settings.maxMessageBytes = PubSubService.maxMessageBytes + 1
        #expect(throws: GossipError.self) { try PubSubService(transport: transport, identity: key, settings: settings) }
        let pubsub = try PubSubService(transport: transport, identity: key)
        _ = try await pubsub.publish(topic, [UInt8](repeating: 0, count: PubSubService.maxMessageBytes))
        await #expect(throws: GossipError.self) { try await pubsub.publish(topic, [UInt8](repeating: 0, count: PubSubService.maxMessageBytes + 1)) }
    }
}
