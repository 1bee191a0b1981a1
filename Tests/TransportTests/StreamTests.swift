import Multiformats
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
import Sodium
import Testing
@testable import SecureChannel
@testable import Transport

/// Multiplexed streams: real NIO on 127.0.0.1, and the handler alone on an embedded channel for
/// what a well-behaved peer never sends.
@Suite struct StreamTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    static let secret = SecureBytes([UInt8](repeating: 0x33, count: 32))
    /// A sequence that never yields nor ends (its continuation lives as long as the process).
    static let never = AsyncStream<Void>.makeStream()

    static func pair(window: Int = 64 * 1024, maxStreams: Int = 256, register: (RPCServer) -> Void = { _ in })
        async throws -> (SecureTransport, SecureTransport, PeerConnection) {
        let server = SecureTransport(
            settings: HandshakeSettings(clusterSecret: secret, identity: .generate()), group: group,
            maxStreamsPerPeer: maxStreams, streamWindow: window)
        // Echo: everything read is written back; the stream ends when the opener finishes.
        server.server.registerStream("echo") { stream in
            while let chunk = try await stream.read() { try await stream.write(chunk) }
        }
        server.server.registerStream("fail") { _ in throw TransportError(.malformed, "refused on purpose") }
        register(server.server)
        let port = try await server.listen()
        let client = SecureTransport(settings: HandshakeSettings(clusterSecret: secret, identity: .generate()), group: group, streamWindow: window)
        let connection = try await client.dial(try Multiaddr("/ip4/127.0.0.1/tcp/\(port)/p2p/\(server.localPeer)"))
        return (server, client, connection)
    }

    @Test func streamsEchoManyMegabytesConcurrentlyOnOneConnection() async throws {
        let (server, client, connection) = try await Self.pair()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for s in 0..<8 {
                group.addTask {
                    let data = SodiumRandom.bytes(1_000_000 + s * 77_777)
                    let stream = try await connection.openStream("echo", payload: Array(data.prefix(100)))
                    // Read while writing: the echo can hold only one window of unread bytes.
                    async let echoed = stream.readAll(limit: 4 << 20)
                    var offset = 100
                    while offset < data.count {
                        let n = min(data.count - offset, 1 + (offset * 7919) % 200_000)
                        try await stream.write(Array(data[offset..<offset + n]))
                        offset += n
                    }
                    stream.finish()
                    #expect(try await echoed == data)
                }
            }
            try await group.waitForAll()
        }
        await client.shutdown()
        await server.shutdown()
    }

    @Test func aSlowReaderHoldsBackOnlyItsOwnStream() async throws {
        let release = Self.group.next().makePromise(of: Void.self)
        let received = NIOLockedValueBox(0)
        let (server, client, connection) = try await Self.pair(window: 64 * 1024) { rpc in
            rpc.registerStream("slow") { stream in
                try await release.futureResult.get()
                while let chunk = try await stream.read() { received.withLockedValue { $0 += chunk.count } }
            }
        }
        let slow = try await connection.openStream("slow")
        let wrote = NIOLockedValueBox(false)
        let writer = Task {
            try await slow.write([UInt8](repeating: 1, count: 1 << 20))
            wrote.withLockedValue { $0 = true }
            slow.finish()
        }
        // Another stream on the same connection moves 4 MiB meanwhile.
        let fast = try await connection.openStream("echo")
        let data = SodiumRandom.bytes(4 << 20)
        async let echoed = fast.readAll(limit: 8 << 20)
        try await fast.write(data)
        fast.finish()
        #expect(try await echoed == data)
        // The slow stream's writer is still waiting for its window: one window at most is out.
        #expect(!wrote.withLockedValue { $0 })
        release.succeed(())
        try await writer.value
        #expect(wrote.withLockedValue { $0 })
        await client.shutdown()
        await server.shutdown()
    }

    @Test func halfCloseLetsTheOtherSideKeepWriting() async throws {
        let (server, client, connection) = try await Self.pair { rpc in
            rpc.registerStream("sum") { stream in
                let all = try await stream.readAll(limit: 1 << 20)
                // The opener has finished; this side still answers, then ends.
                try await stream.write(Array("\(all.count) bytes".utf8))
            }
        }
        let stream = try await connection.openStream("sum", payload: [1, 2, 3])
        try await stream.write([4, 5])
        stream.finish()
        await #expect(throws: TransportError.self) { try await stream.write([6]) }
        #expect(String(decoding: try await stream.readAll(limit: 100), as: UTF8.self) == "5 bytes")
        #expect(try await stream.read() == nil)
        await client.shutdown()
        await server.shutdown()
    }

    /// A pair whose server serves `hold`: reads until the stream fails, keeps the error it read.
    static func pairWithWatchedHold() async throws
        -> (SecureTransport, SecureTransport, PeerConnection, seen: NIOLockedValueBox<String?>, done: EventLoopFuture<Void>) {
        let seen = NIOLockedValueBox<String?>(nil)
        let done = group.next().makePromise(of: Void.self)
        let (server, client, connection) = try await pair { rpc in
            rpc.registerStream("hold") { stream in
                do { while try await stream.read() != nil {} } catch { seen.withLockedValue { $0 = "\(error)" } }
                done.succeed(())
            }
        }
        return (server, client, connection, seen, done.futureResult)
    }

    @Test func resetsReachTheOtherSideWithTheirReason() async throws {
        let (server, client, connection, seen, done) = try await Self.pairWithWatchedHold()
        // The handler throws: the opener's read fails with the handler's error.
        let failing = try await connection.openStream("fail")
        let error = await #expect(throws: TransportError.self) { try await failing.read() }
        #expect(error?.code == .reset && error?.message.contains("refused on purpose") == true)
        // No handler for the method.
        let unknown = try await connection.openStream("nope")
        let refused = await #expect(throws: TransportError.self) { try await unknown.read() }
        #expect(refused?.message.contains("unknown method nope") == true)
        // The opener resets: the handler's read fails with the reason.
        let held = try await connection.openStream("hold", payload: [1])
        held.reset("changed my mind")
        try await done.get()
        #expect(seen.withLockedValue { $0 }?.contains("changed my mind") == true)
        await #expect(throws: TransportError.self) { try await held.write([1]) }
        await client.shutdown()
        await server.shutdown()
    }

    @Test func streamsOverThePeersLimitAreRefusedBusy() async throws {
        let gate = Self.group.next().makePromise(of: Void.self)
        let (server, client, connection) = try await Self.pair(maxStreams: 2) { rpc in
            rpc.registerStream("hold") { _ in try await gate.futureResult.get() }
        }
        let first = try await connection.openStream("hold")
        let second = try await connection.openStream("hold")
        let third = try await connection.openStream("hold")
        let error = await #expect(throws: TransportError.self) { try await third.read() }
        #expect(error?.message.contains("busy: 2 streams") == true)
        gate.succeed(())
        #expect(try await first.read() == nil)
        #expect(try await second.read() == nil)
        // Once they ended both ways, a new one is served.
        first.finish()
        second.finish()
        let again = try await connection.openStream("echo", payload: [9])
        again.finish()
        #expect(try await again.readAll(limit: 10) == [9])
        await client.shutdown()
        await server.shutdown()
    }

    @Test func aStreamPastItsDeadlineIsResetOnBothSides() async throws {
        let (server, client, connection, seen, done) = try await Self.pairWithWatchedHold()
        let stream = try await connection.openStream("hold", payload: [1], deadline: .milliseconds(100))
        let error = await #expect(throws: TransportError.self) { try await stream.read() }
        #expect(error?.code == .timeout)
        try await done.get()
        #expect(seen.withLockedValue { $0 }?.contains("deadline") == true)
        // A stream done before its deadline is not touched by it.
        let quick = try await connection.openStream("echo", payload: [7], deadline: .seconds(30))
        quick.finish()
        #expect(try await quick.readAll(limit: 10) == [7])
        await client.shutdown()
        await server.shutdown()
    }

    @Test func aClosedConnectionFailsItsStreams() async throws {
        let (server, client, connection) = try await Self.pair { rpc in
            rpc.registerStream("hold") { stream in while try await stream.read() != nil {} }
        }
        let stream = try await connection.openStream("hold")
        await connection.close()
        let error = await #expect(throws: TransportError.self) { try await stream.read() }
        #expect(error?.code == .connectionClosed)
        await client.shutdown()
        await server.shutdown()
    }

    // MARK: the handler alone, fed frames a well-behaved peer never sends

    static func embedded(window: Int = 1024, coalesce: Bool = true) throws -> EmbeddedChannel {
        let server = RPCServer()
        // Never reads nor returns: an embedded channel is used from this thread only, and a
        // reader would write its window grants from another.
        server.registerStream("hold") { _ in for await _ in Self.never.stream {} }
        let handler = RPCHandler(
            server: server, isInitiator: false, maxConcurrent: 8, streamWindow: window, maxStreams: 4,
            coalesce: coalesce, logger: .init(label: "test"))
        let channel = EmbeddedChannel(handler: handler)
        let key = SecureBytes([UInt8](repeating: 1, count: 32))
        let peer = try PeerID(ed25519PublicKey: Ed25519.PrivateKey.generate().publicKey.bytes)
        let session = SecureSession(
            peer: peer, isInitiator: false, cipher: .chacha20Poly1305, sendKey: key, receiveKey: key,
            handshakeHash: [UInt8](repeating: 2, count: 32), localDatagramID: [UInt8](repeating: 3, count: 8),
            remoteDatagramID: [UInt8](repeating: 4, count: 8),
            datagramKeys: DatagramKeys(handshakeHash: [UInt8](repeating: 2, count: 32), isInitiator: false))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.pipeline.fireUserInboundEventTriggered(session)
        return channel
    }

    @Test func dataBeyondTheWindowClosesTheConnection() throws {
        let channel = try Self.embedded(window: 1024)
        try channel.writeInbound(RPCFrame.open(stream: 1, method: "hold", payload: [UInt8](repeating: 0, count: 1000)).encoded())
        // 1,000 + 24 bytes is exactly the window: accepted.
        try channel.writeInbound(RPCFrame.data(stream: 1, payload: [UInt8](repeating: 0, count: 24)).encoded())
        #expect(channel.isActive)
        // One byte more than the window.
        try channel.writeInbound(RPCFrame.data(stream: 1, payload: [0]).encoded())
        #expect(!channel.isActive)
    }

    @Test func framesThatBreakTheStreamRulesCloseTheConnection() throws {
        let cases: [(String, [RPCFrame])] = [
            ("an open with this side's stream id", [.open(stream: 2, method: "hold", payload: [])]),
            ("an open reusing a live id", [.open(stream: 1, method: "hold", payload: []), .open(stream: 1, method: "hold", payload: [])]),
            ("an open carrying more than a window", [.open(stream: 1, method: "hold", payload: [UInt8](repeating: 0, count: 1025))]),
            ("data after the close", [.open(stream: 1, method: "hold", payload: []), .close(stream: 1), .data(stream: 1, payload: [1])]),
            ("a window past 1 GiB", [.open(stream: 1, method: "hold", payload: []), .window(stream: 1, increment: 1 << 30)]),
        ]
        for (what, frames) in cases {
            let channel = try Self.embedded()
            for frame in frames { _ = try? channel.writeInbound(frame.encoded()) }
            #expect(!channel.isActive, "\(what)")
        }
        // Frames for streams that do not exist (reset meanwhile) are ignored.
        let channel = try Self.embedded()
        for frame: RPCFrame in [.data(stream: 7, payload: [1]), .window(stream: 7, increment: 5), .close(stream: 7), .reset(stream: 7, reason: "x")] {
            try channel.writeInbound(frame.encoded())
        }
        #expect(channel.isActive)
    }

    @Test func smallFramesOfOneTurnShareARecord() throws {
        let channel = try Self.embedded()
        for i in 0..<50 { channel.write(RPCOutbound.frame(.message(method: "m", payload: [UInt8(i)])), promise: nil) }
        channel.flush()
        // Nothing leaves before the end of the turn.
        #expect(try channel.readOutbound(as: RecordPlaintext.self)?.bytes == nil)
        channel.embeddedEventLoop.run()
        let record = try #require(try channel.readOutbound(as: RecordPlaintext.self)?.bytes)
        #expect(try channel.readOutbound(as: RecordPlaintext.self)?.bytes == nil)
        guard case .batch(let frames) = try RPCFrame(decoding: record) else { Issue.record("not a batch"); return }
        #expect(frames == (0..<50).map { .message(method: "m", payload: [UInt8($0)]) })
        // A frame of 1,024 bytes or more leaves on its own, after the batch before it.
        channel.write(RPCOutbound.frame(.message(method: "m", payload: [1])), promise: nil)
        channel.write(RPCOutbound.frame(.message(method: "m", payload: [UInt8](repeating: 2, count: 1100))), promise: nil)
        channel.flush()
        channel.embeddedEventLoop.run()
        #expect(try RPCFrame(decoding: try #require(try channel.readOutbound(as: RecordPlaintext.self)?.bytes)) == .message(method: "m", payload: [1]))
        #expect(try channel.readOutbound(as: RecordPlaintext.self)?.bytes.count == 1100 + 4)
        // Without coalescing every frame is its own record, flushed at once.
        let plain = try Self.embedded(coalesce: false)
        for i in 0..<3 { plain.writeAndFlush(RPCOutbound.frame(.message(method: "m", payload: [UInt8(i)])), promise: nil) }
        for i in 0..<3 { #expect(try plain.readOutbound(as: RecordPlaintext.self)?.bytes == RPCFrame.message(method: "m", payload: [UInt8(i)]).encoded()) }
    }

    @Test func aBatchNeverExceedsOneRecord() throws {
        let channel = try Self.embedded()
        let payload = [UInt8](repeating: 5, count: 1000)
        for _ in 0..<200 { channel.write(RPCOutbound.frame(.message(method: "m", payload: payload)), promise: nil) }
        channel.flush()
        channel.embeddedEventLoop.run()
        var count = 0
        while let record = try channel.readOutbound(as: RecordPlaintext.self)?.bytes {
            #expect(record.count <= RecordLayer.maxPlaintext)
            guard case .batch(let frames) = try RPCFrame(decoding: record) else { Issue.record("not a batch"); return }
            count += frames.count
        }
        #expect(count == 200)
    }
}

extension RecordPlaintext {
    /// The record's plaintext, as the peer decrypts it.
    var bytes: [UInt8] {
        switch self {
        case .bytes(let b): return b
        case .streamData(let stream, let bytes, let range): return RPCFrame.dataFrame(stream: stream, payload: bytes[range])
        }
    }
}
