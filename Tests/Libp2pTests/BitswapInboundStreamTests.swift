import Bitswap
import Multiformats
import Testing
@testable import Libp2p

/// Inbound bitswap streams of one peer: read a few at once, the rest in line, none lost.
@Suite("Bitswap inbound streams of one peer")
struct BitswapInboundStreamTests {
    typealias B = BitswapTestSupport
    typealias S = Libp2pTestSupport

    /// A distinct small block for stream `i`, and a message carrying it.
    static func block(_ i: Int) -> (CID, [UInt8], [UInt8]) {
        let data = [UInt8(i >> 8), UInt8(i & 0xff), 0xb1, 0x75, 0x3a]
        let cid = CID.v1(codec: .raw, Multihash.sha256(data))
        return (cid, data, BitswapMessage(payload: [BitswapPayloadBlock(prefix: BitswapCIDPrefix(of: cid), data: data)]).encoded())
    }

    /// Whether the peer's end of `stream` was reset or closed within 5 s.
    static func ended(_ stream: Libp2pStream) async throws -> Bool {
        try await S.within(.seconds(5)) { () -> Bool in
            do { return try await stream.read() == nil } catch { return true }
        } == true
    }

    @Test("a peer that answers as kubo does, every block on a stream of its own and 48 streams open at once, loses none of them")
    func kuboLikeBurstLosesNothing() async throws {
        var settings = BitswapServiceSettings()
        settings.client.sessionWindow = 64
        // A lost block would be asked again only after these: the test's bound comes first.
        settings.client.blockTimeout = .seconds(120)
        settings.client.giveUpAfter = .seconds(240)
        let (target, service) = try await B.node(B.Store(), settings: settings)
        let kuboLike = try await S.host()
        try await kuboLike.connect(try S.dialAddress(target))
        let blocks = (0..<48).map(Self.block)
        let session = await service.session()
        await session.want(blocks.map(\.0))
        #expect(try await B.eventually(within: .seconds(30)) { await service.wanted.count == 48 })

        // Every stream is open (and, before the fix, the fifth on were reset) before any is written.
        var streams: [Libp2pStream] = []
        for _ in blocks { streams.append(try await kuboLike.newStream(to: target.peerID, protocols: ["/ipfs/bitswap/1.2.0"])) }
        await withTaskGroup(of: Void.self) { g in
            for (stream, (_, _, message)) in zip(streams, blocks) {
                g.addTask {
                    try? await stream.writeMessage(message)  // a reset stream is a lost block: counted below
                    await stream.closeWrite()
                }
            }
        }
        let received = try await S.within(.seconds(20)) { () -> Set<CID> in
            var got: Set<CID> = []
            for await result in session.results {
                if case .block(let cid, _) = result { got.insert(cid) }
                if got.count == 48 { break }
            }
            return got
        }
        #expect(received == Set(blocks.map(\.0)), "\(received?.count ?? 0) of 48 blocks arrived")
        #expect(await service.clientCounters.blocksReceived == 48)
        #expect(try await B.eventually(within: .seconds(30)) {
            await service.readingInboundStreams(kuboLike.peerID) + service.waitingInboundStreams(kuboLike.peerID) == 0
        }, "every stream ended and gave its slot back")
        await session.close()
        await service.stop()
        await kuboLike.shutdown()
        await target.shutdown()
    }

    @Test("four streams of a peer are read at once and 64 more wait in line (at the limits); the 65th waiting is reset; the line is read as slots free")
    func readingAndWaitingLimits() async throws {
        let settings = BitswapServiceSettings()
        #expect(settings.maxInboundStreamsPerPeer == 4 && settings.maxWaitingInboundStreamsPerPeer == 64)
        let (target, service) = try await B.node(B.Store(), settings: settings)
        let peer = try await S.host()
        try await peer.connect(try S.dialAddress(target))
        func open(_ i: Int) async throws -> Libp2pStream {
            let stream = try await peer.newStream(to: target.peerID, protocols: ["/ipfs/bitswap/1.2.0"])
            try await stream.writeMessage(Self.block(i).2)
            return stream
        }
        var reading: [Libp2pStream] = []
        for i in 0..<4 { reading.append(try await open(i)) }
        #expect(try await B.eventually(within: .seconds(30)) { await service.clientCounters.blocksUnwanted == 4 })
        #expect(await service.readingInboundStreams(peer.peerID) == 4)

        var waiting: [Libp2pStream] = []
        for i in 4..<68 { waiting.append(try await open(i)) }
        #expect(try await B.eventually(within: .seconds(10)) { await service.waitingInboundStreams(peer.peerID) == 64 })
        #expect(await service.clientCounters.blocksUnwanted == 4, "a waiting stream is not read")
        #expect(await service.readingInboundStreams(peer.peerID) == 4)

        let overLimit = try await peer.newStream(to: target.peerID, protocols: ["/ipfs/bitswap/1.2.0"])
        try? await overLimit.writeMessage(Self.block(68).2)  // the reset may come first
        #expect(try await Self.ended(overLimit), "the 65th waiting stream is reset")
        #expect(await service.waitingInboundStreams(peer.peerID) == 64)

        for s in reading { await s.closeWrite() }
        for s in waiting { await s.closeWrite() }
        #expect(try await B.eventually(within: .seconds(10)) { await service.clientCounters.blocksUnwanted == 68 },
                "every waiting stream was read; the reset one was not")
        #expect(try await B.eventually(within: .seconds(30)) {
            await service.readingInboundStreams(peer.peerID) + service.waitingInboundStreams(peer.peerID) == 0
        })
        await service.stop()
        await peer.shutdown()
        await target.shutdown()
    }

    @Test("with one reading slot and one place in line, a second stream waits, a third is reset, and stopping the service resets the waiting one")
    func smallLimitsAndStop() async throws {
        var settings = BitswapServiceSettings()
        settings.maxInboundStreamsPerPeer = 1
        settings.maxWaitingInboundStreamsPerPeer = 1
        let (target, service) = try await B.node(B.Store(), settings: settings)
        let peer = try await S.host()
        try await peer.connect(try S.dialAddress(target))
        let first = try await peer.newStream(to: target.peerID, protocols: ["/ipfs/bitswap/1.2.0"])
        try await first.writeMessage(Self.block(1).2)
        // 60 s: in the suite's first phase (hundreds of tests at once, about a minute on 2
        // cores) this first read once waited over 30 s for a thread; alone it takes 30 ms.
        #expect(try await B.eventually(within: .seconds(60)) { await service.clientCounters.blocksUnwanted == 1 })
        let second = try await peer.newStream(to: target.peerID, protocols: ["/ipfs/bitswap/1.2.0"])
        try await second.writeMessage(Self.block(2).2)
        #expect(try await B.eventually(within: .seconds(60)) { await service.waitingInboundStreams(peer.peerID) == 1 })
        let third = try await peer.newStream(to: target.peerID, protocols: ["/ipfs/bitswap/1.2.0"])
        #expect(try await Self.ended(third))
        await service.stop()
        #expect(try await Self.ended(second), "stop resets the waiting stream")
        #expect(await service.waitingInboundStreams(peer.peerID) == 0)
        #expect(await service.clientCounters.blocksUnwanted == 1)
        await peer.shutdown()
        await target.shutdown()
    }

    @Test("a negative waiting line is refused, naming the setting")
    func negativeWaitingLineRefused() {
        var settings = BitswapServiceSettings()
        settings.maxWaitingInboundStreamsPerPeer = -1
        let error = #expect(throws: BitswapError.self) { try settings.validate() }
        #expect(error?.message.contains("maxWaitingInboundStreamsPerPeer") == true)
        settings.maxWaitingInboundStreamsPerPeer = 0
        #expect(throws: Never.self) { try settings.validate() }
    }
}
