import ClusterTestKit
import NIOConcurrencyHelpers
import Multiformats
import NIOCore
import NIOPosix
import Sodium
import Testing
@testable import SecureChannel
@testable import Transport

/// Real NIO on 127.0.0.1 with ports the OS assigns.
@Suite struct TransportTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    static let secret = SecureBytes([UInt8](repeating: 0x5a, count: 32))

    static func node(secret: SecureBytes = secret) async throws -> (SecureTransport, Multiaddr) {
        let t = SecureTransport(settings: HandshakeSettings(clusterSecret: secret, identity: .generate()), group: group)
        t.server.register("echo") { _, payload in payload }
        t.server.register("whoami") { peer, _ in Array(peer.description.utf8) }
        t.server.register("fail") { _, _ in throw TransportError(.malformed, "refused on purpose") }
        let port = try await t.listen()
        return (t, try Multiaddr("/ip4/127.0.0.1/tcp/\(port)/p2p/\(t.localPeer)"))
    }

    @Test func threePeersCallEachOtherBothWaysOverCallsStreamsAndDatagrams() async throws {
        let (a, _) = try await Self.node()
        let (b, addrB) = try await Self.node()
        let (c, addrC) = try await Self.node()
        let ab = try await a.dial(addrB)
        let ac = try await a.dial(addrC)
        #expect(ab.peer == b.localPeer && ac.peer == c.localPeer)
        #expect(try await ab.call("echo", [1, 2, 3]) == [1, 2, 3])
        #expect(String(decoding: try await ac.call("whoami", []), as: UTF8.self) == a.localPeer.description)
        // The accepted side calls back over the same connection.
        let ba = try #require(b.connection(to: a.localPeer))
        #expect(String(decoding: try await ba.call("whoami", []), as: UTF8.self) == b.localPeer.description)
        // Many concurrent calls on one connection, large and compressible payloads included.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask {
                    let payload = i % 2 == 0 ? [UInt8](repeating: UInt8(i), count: 60_000) : SodiumRandom.bytes(i * 100)
                    let echoed = try await ab.call("echo", payload)
                    #expect(echoed == payload)
                }
            }
            try await group.waitForAll()
        }
        await #expect(throws: TransportError.self) { try await ab.call("fail", []) }
        await #expect(throws: TransportError.self) { try await ab.call("nope", []) }
        await #expect(throws: TransportError.self) { try await ab.call("echo", [UInt8](repeating: 0, count: RPCFrame.maxPayload + 1)) }
        #expect(a.connectedPeers == [b.localPeer, c.localPeer].sorted())
        // B and C connect too; each of the three sends every other a datagram and a stream.
        _ = try await b.dial(addrC)
        let inboxes = [Inbox(), Inbox(), Inbox()]
        let peers = [a, b, c]
        for (t, inbox) in zip(peers, inboxes) {
            t.onDatagram { inbox.put($0, $1) }
            t.server.registerStream("up") { stream in
                let all = try await stream.readAll(limit: 1 << 20)
                try await stream.write(all.reversed())
            }
        }
        for (i, from) in peers.enumerated() {
            for to in peers where to !== from {
                let connection = try #require(from.connection(to: to.localPeer))
                try await from.sendDatagram([UInt8(i)], to: to.localPeer)
                let stream = try await connection.openStream("up", payload: [UInt8(i), 1, 2])
                stream.finish()
                #expect(try await stream.readAll(limit: 10) == [2, 1, UInt8(i)])
            }
        }
        for (i, inbox) in inboxes.enumerated() {
            let got = await inbox.wait(for: 2)
            #expect(Set(got.map(\.1)) == Set((0..<3).filter { $0 != i }.map { [UInt8($0)] }), "datagrams at peer \(i)")
        }
        for t in [a, b, c] { await t.shutdown() }
    }

    @Test func wrongSecretAndWrongPeerAreRefused() async throws {
        let (good, addr) = try await Self.node()
        let (outsider, _) = try await Self.node(secret: SecureBytes([UInt8](repeating: 1, count: 32)))
        await #expect(throws: TransportError.self) { try await outsider.dial(addr) }
        #expect(good.connectedPeers.isEmpty)
        let (other, _) = try await Self.node()
        let wrong = try Multiaddr("/ip4/127.0.0.1/tcp/\(addr.components[1].description.split(separator: "/").last!)/p2p/\(other.localPeer)")
        let (dialer, _) = try await Self.node()
        await #expect(throws: TransportError.self) { try await dialer.dial(wrong) }
        for t in [good, outsider, other, dialer] { await t.shutdown() }
    }

    @Test func stalledHandshakeAndGarbageAreDroppedWithoutHarmingOthers() async throws {
        var settings = HandshakeSettings(clusterSecret: Self.secret, identity: .generate())
        settings.timeout = .seconds(1)
        let server = SecureTransport(settings: settings, group: Self.group)
        server.server.register("echo") { _, p in p }
        let port = try await server.listen()
        // A raw TCP client that connects and never speaks, and one that sends garbage.
        let silent = try await ClientBootstrap(group: Self.group).connect(host: "127.0.0.1", port: port).get()
        let noisy = try await ClientBootstrap(group: Self.group).connect(host: "127.0.0.1", port: port).get()
        // The server may close on the first two bytes, before the rest is written: a failed
        // write is the refusal this test expects, not an error of the test.
        _ = try? await noisy.writeAndFlush(noisy.allocator.buffer(bytes: [0xff, 0xff] + [UInt8](repeating: 7, count: 65535)))
        try await noisy.closeFuture.get()
        // The honest peer is served meanwhile.
        let (client, _) = try await Self.node()
        let conn = try await client.dial(try Multiaddr("/ip4/127.0.0.1/tcp/\(port)/p2p/\(server.localPeer)"))
        #expect(try await conn.call("echo", [42]) == [42])
        // The silent one is dropped at the handshake deadline (awaited, bounded by the deadline).
        try await silent.closeFuture.get()
        #expect(!silent.isActive)
        await server.shutdown()
        await client.shutdown()
    }

    @Test func badAddressesAreRejectedWithTheReason() async throws {
        let (t, _) = try await Self.node()
        await #expect(throws: TransportError.self) { try await t.dial(try Multiaddr("/dns4/localhost/udp/1")) }
        await #expect(throws: TransportError.self) { try await t.dial(try Multiaddr("/ip4/127.0.0.1/tcp/1")) }
        await t.shutdown()
    }
}

/// Collects datagrams for a test and lets it await them with a bound: the wait ends when
/// enough have arrived, or at a deadline scheduled on an event loop, never by sleeping.
final class Inbox: @unchecked Sendable {
    private let lock = NIOLock()
    private var items: [(PeerID, [UInt8])] = []
    private var waiters: [Int: (count: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
    private var nextWaiter = 0

    func put(_ peer: PeerID, _ payload: [UInt8]) {
        let ready = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            items.append((peer, payload))
            let done = waiters.filter { $0.value.count <= items.count }
            for key in done.keys { waiters[key] = nil }
            return done.values.map(\.continuation)
        }
        for c in ready { c.resume() }
    }

    func wait(for count: Int, timeout: TimeAmount = .seconds(5)) async -> [(PeerID, [UInt8])] {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let id: Int? = lock.withLock {
                guard items.count < count else { return nil }
                nextWaiter += 1
                waiters[nextWaiter] = (count, c)
                return nextWaiter
            }
            guard let id else { return c.resume() }
            TransportTests.group.next().scheduleTask(in: timeout) {
                let expired = self.lock.withLock { self.waiters.removeValue(forKey: id) }
                expired?.continuation.resume()
            }
        }
        return lock.withLock { items }
    }
}

@Suite struct DatagramTransportTests {
    @Test func datagramsFlowBothWaysAndReplaysAreDropped() async throws {
        let (a, _) = try await TransportTests.node()
        let (b, addrB) = try await TransportTests.node()
        let inboxA = Inbox(), inboxB = Inbox()
        a.onDatagram { inboxA.put($0, $1) }
        b.onDatagram { inboxB.put($0, $1) }
        _ = try await a.dial(addrB)
        try await a.sendDatagram([1, 2, 3], to: b.localPeer)
        let atB = await inboxB.wait(for: 1)
        #expect(atB.first?.0 == a.localPeer && atB.first?.1 == [1, 2, 3])
        // B learned A's datagram address from A's authenticated datagrams.
        try await b.sendDatagram([9], to: a.localPeer)
        let atA = await inboxA.wait(for: 1)
        #expect(atA.first?.1 == [9])
        await #expect(throws: (any Error).self) { try await a.sendDatagram([UInt8](repeating: 0, count: DatagramLayer.maxPayload + 1), to: b.localPeer) }
        let stranger = try PeerID(ed25519PublicKey: Ed25519.PrivateKey.generate().publicKey.bytes)
        await #expect(throws: TransportError.self) { try await a.sendDatagram([1], to: stranger) }
        await a.shutdown()
        await b.shutdown()
    }
    @Test func smallDatagramMessagesOfOneTurnShareDatagrams() async throws {
        let (a, _) = try await TransportTests.node()
        let (b, addrB) = try await TransportTests.node()
        let inbox = Inbox()
        b.onDatagram { inbox.put($0, $1) }
        _ = try await a.dial(addrB)
        let before = a.trafficTotals.udpOut
        try await a.sendDatagram([1, 2, 3], to: b.localPeer)
        #expect(await inbox.wait(for: 1).count == 1)
        let messages = (0..<500).map { i in [UInt8](repeating: UInt8(i & 0xff), count: 1 + i % 200) }
        for m in messages { try await a.sendDatagram(m, to: b.localPeer) }
        let got = Array(await inbox.wait(for: 501).dropFirst())
        #expect(got.count == 500)
        let same = Set(got.map(\.1)) == Set(messages)
        #expect(same, "the messages that arrived differ from those sent")
        // 500 messages of 1 to 200 bytes (51,000 bytes with their lengths) fill about 44
        // datagrams, not 500.
        let datagrams = Double(a.trafficTotals.udpOut - before) / 1200
        #expect(datagrams < 60, "\(datagrams) datagrams' worth of bytes for 500 messages")
        // The largest message fits; one byte more does not.
        try await a.sendDatagram([UInt8](repeating: 7, count: DatagramMessages.maxMessage), to: b.localPeer)
        let all = await inbox.wait(for: 502)
        #expect(all.count == 502 && all.last?.1.count == DatagramMessages.maxMessage)
        await #expect(throws: TransportError.self) { try await a.sendDatagram([UInt8](repeating: 0, count: DatagramMessages.maxMessage + 1), to: b.localPeer) }
        await a.shutdown()
        await b.shutdown()
    }
}

/// Re-checks `condition` on an event loop every 10 ms until it holds or `timeout` passes.
/// A bound, not a delay. 20 s, as the async variant: a closure without `await` picks this one, and
/// on a loaded 2-core CI run a redial after a 2 s handshake time-out has taken longer than 5 s.
func eventually(timeout: TimeAmount = .seconds(20), _ condition: @escaping @Sendable () -> Bool) async -> Bool {
    let loop = TransportTests.group.next()
    let promise = loop.makePromise(of: Bool.self)
    let deadline = NIODeadline.now() + timeout
    @Sendable func check() {
        if condition() { return promise.succeed(true) }
        if NIODeadline.now() > deadline { return promise.succeed(false) }
        loop.scheduleTask(in: .milliseconds(10)) { check() }
    }
    loop.execute { check() }
    return (try? await promise.futureResult.get()) ?? false
}

@Suite struct ConnectionManagementTests {
    @Test func simultaneousDialsLeaveOneConnectionBothSidesAgreeOn() async throws {
        let (a, addrA) = try await TransportTests.node()
        let (b, addrB) = try await TransportTests.node()
        async let ab = a.dial(addrB)
        async let ba = b.dial(addrA)
        _ = try await (ab, ba)
        let agreed = await eventually {
            guard let x = a.connection(to: b.localPeer), let y = b.connection(to: a.localPeer) else { return false }
            return x.session.handshakeHash == y.session.handshakeHash
        }
        #expect(agreed)
        let winner = try #require(a.connection(to: b.localPeer))
        #expect(try await winner.call("echo", [5]) == [5])
        await a.shutdown()
        await b.shutdown()
    }

    @Test func pendingHandshakeLimitRefusesTheExcess() async throws {
        var settings = HandshakeSettings(clusterSecret: TransportTests.secret, identity: .generate())
        settings.timeout = .seconds(2)
        let server = SecureTransport(settings: settings, group: TransportTests.group, maxPendingHandshakes: 2)
        let port = try await server.listen()
        // Two silent connections fill the pending slots; a third is closed at once.
        var silent: [any Channel] = []
        for _ in 0..<2 { silent.append(try await ClientBootstrap(group: TransportTests.group).connect(host: "127.0.0.1", port: port).get()) }
        let ready = await eventually { true }
        #expect(ready)
        let third = try await ClientBootstrap(group: TransportTests.group).connect(host: "127.0.0.1", port: port).get()
        try await third.closeFuture.get()
        #expect(!third.isActive)
        for c in silent { try? await c.close() }
        await server.shutdown()
    }
}

/// Holds handler calls until released.
final class Gate: @unchecked Sendable {
    private let lock = NIOLock()
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var open = false

    func pass() async {
        await withCheckedContinuation { c in
            let now = lock.withLock { () -> Bool in
                if open { return true }
                waiting.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func release() {
        let ws = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            open = true
            defer { waiting = [] }
            return waiting
        }
        for w in ws { w.resume() }
    }
}

@Suite struct RPCLimitTests {
    @Test func callsBeyondThePerPeerLimitAreRefusedAtOnce() async throws {
        let server = SecureTransport(
            settings: HandshakeSettings(clusterSecret: TransportTests.secret, identity: .generate()),
            group: TransportTests.group, maxConcurrentCallsPerPeer: 2)
        let gate = Gate()
        server.server.register("hold") { _, p in
            await gate.pass()
            return p
        }
        let port = try await server.listen()
        let (client, _) = try await TransportTests.node()
        let c = try await client.dial(try Multiaddr("/ip4/127.0.0.1/tcp/\(port)/p2p/\(server.localPeer)"))
        // Three calls at once: two are held by the gate, so the one that returns first must be
        // the refusal; releasing the gate then answers the other two.
        let results = await withTaskGroup(of: Result<[UInt8], TransportError>.self) { group in
            for i in 1...3 {
                group.addTask {
                    do { return .success(try await c.call("hold", [UInt8(i)])) } catch let e as TransportError { return .failure(e) } catch {
                        return .failure(TransportError(.malformed, "\(error)"))
                    }
                }
            }
            var out: [Result<[UInt8], TransportError>] = []
            if let first = await group.next() { out.append(first) }
            gate.release()
            for await r in group { out.append(r) }
            return out
        }
        guard case .failure(let refusal) = results[0] else {
            Issue.record("the first call to return should be the refused one")
            return
        }
        #expect(refusal.code == .remoteError && refusal.message.contains("busy"))
        #expect(results.dropFirst().allSatisfy { if case .success = $0 { true } else { false } })
        // Once they are answered, the peer may call again.
        #expect(try await c.call("hold", [4]) == [4])
        await client.shutdown()
        await server.shutdown()
    }
}
