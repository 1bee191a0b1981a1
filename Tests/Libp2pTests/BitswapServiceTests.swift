import Bitswap
import Multiformats
import Testing
@testable import Libp2p

@Suite("Bitswap between two of our hosts on loopback")
struct BitswapServiceTests {
    typealias B = BitswapTestSupport
    typealias S = Libp2pTestSupport

    @Test("one host fetches a DAG of 331 blocks from the other through one session, every block verified")
    func fetchesDAG() async throws {
        let source = B.Store()
        let root = B.makeDAG(in: source, fanout: 10, leaves: 32)
        #expect(source.count == 331)
        let (server, served) = try await B.node(source)
        let sink = B.Store()
        let (client, fetcher) = try await B.node(sink)
        try await client.connect(try S.dialAddress(server))
        let result = try await S.within(.seconds(60)) { try await B.fetchDAG(root, with: fetcher, into: sink) }
        #expect(result?.fetched == 331 && result?.missing == 0)
        #expect(sink.blocks.withLockedValue { $0 } == source.blocks.withLockedValue { $0 })
        let received = await fetcher.clientCounters
        #expect(received.blocksReceived == 331)
        #expect(received.blocksUnverifiable == 0)
        #expect(await served.serverCounters.blocksSent >= 331)
        #expect(await fetcher.wanted.isEmpty)
        await fetcher.stop()
        await served.stop()
        await client.shutdown()
        await server.shutdown()
    }

    @Test("fetch returns nil within the give-up time when no peer has the block")
    func notFound() async throws {
        var settings = BitswapServiceSettings()
        settings.client.giveUpAfter = .seconds(1)
        settings.client.rebroadcastInterval = .milliseconds(300)
        let (server, served) = try await B.node(B.Store())
        let (client, fetcher) = try await B.node(B.Store(), settings: settings)
        try await client.connect(try S.dialAddress(server))
        // The client must know the server speaks bitswap before the 1 s give-up starts, or on
        // a loaded machine it gives up before asking anyone and no DONT_HAVE ever comes.
        #expect(try await B.eventually(within: .seconds(30)) { await fetcher.bitswapPeers.count == 1 })
        let missing = CID.v1(codec: .raw, Multihash.sha256([1, 2, 3]))
        let started = ContinuousClock.now
        let result = try await S.within(.seconds(10)) { try await fetcher.fetch(missing) }
        #expect(result == .some(nil))
        #expect(ContinuousClock.now - started >= .seconds(1))
        // On a loaded machine the server's DONT_HAVE may come after the client gave up.
        #expect(try await B.eventually(within: .seconds(30)) { await served.serverCounters.dontHavesSent >= 1 })
        #expect(await fetcher.wanted.isEmpty)
        await fetcher.stop()
        await served.stop()
        await client.shutdown()
        await server.shutdown()
    }

    @Test("cancelling the task of a fetch cancels its want")
    func cancellation() async throws {
        let (client, fetcher) = try await B.node(B.Store())
        let missing = CID.v1(codec: .raw, Multihash.sha256([4, 5, 6]))
        let task = Task { try await fetcher.fetch(missing) }
        #expect(try await B.eventually(within: .seconds(30)) { await fetcher.wanted == [missing] })
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(await fetcher.wanted.isEmpty)
        await fetcher.stop()
        await client.shutdown()
    }

    @Test("a block stored after a peer asked for it is sent to that peer")
    func storedLater() async throws {
        let store = B.Store()
        let (server, served) = try await B.node(store)
        let (client, fetcher) = try await B.node(B.Store())
        try await client.connect(try S.dialAddress(server))
        let data = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let cid = CID.v1(codec: .raw, Multihash.sha256(data))
        let fetch = Task { try await fetcher.fetch(cid) }
        #expect(try await B.eventually(within: .seconds(30)) { await served.serverCounters.wantsReceived >= 1 })
        store.put(cid, data)
        await served.blockStored(cid)
        #expect(try await S.within(.seconds(10)) { try await fetch.value } == .some(data))
        await fetcher.stop()
        await served.stop()
        await client.shutdown()
        await server.shutdown()
    }

    @Test("a block nobody wanted is counted and dropped; a malformed message resets its stream")
    func hostilePeer() async throws {
        let (target, service) = try await B.node(B.Store())
        let attacker = try await S.host()
        try await attacker.connect(try S.dialAddress(target))
        let stream = try await attacker.newStream(to: target.peerID, protocols: ["/ipfs/bitswap/1.2.0"])
        let junk = (0..<100).map { UInt8($0) }
        let unwanted = BitswapMessage(payload: [BitswapPayloadBlock(prefix: BitswapCIDPrefix(of: CID.v1(codec: .raw, Multihash.sha256(junk))), data: junk)])
        try await stream.writeMessage(unwanted.encoded())
        #expect(try await B.eventually(within: .seconds(30)) { await service.clientCounters.blocksUnwanted == 1 })
        try await stream.writeMessage([0x0a, 0x02, 0x08, 0x01])
        let ended = try await S.within(.seconds(5)) { () -> Bool in
            do { return try await stream.read() == nil } catch { return true }
        }
        #expect(ended == true, "the stream was reset after a malformed message")
        await service.stop()
        await attacker.shutdown()
        await target.shutdown()
    }

    @Test("a peer speaking only bitswap 1.0.0 is asked want-block, its raw block is taken, and it gets raw blocks from us")
    func bitswap100Peer() async throws {
        let store = B.Store()
        let ours = (0..<3000).map { UInt8(truncatingIfNeeded: $0 * 11) }
        let oursCID = try CID.v0(Multihash.sha256(ours))
        store.put(oursCID, ours)
        let (host, service) = try await B.node(store)
        let theirs = (0..<2000).map { UInt8(truncatingIfNeeded: $0 * 3 + 1) }
        let theirsCID = try CID.v0(Multihash.sha256(theirs))

        let old = Libp2pHost(identity: .generate(), settings: Libp2pSettings(listen: [try Multiaddr("/ip4/127.0.0.1/tcp/0")], agentVersion: "old/1.0"),
                             group: S.group, logger: .init(label: "old-bitswap"))
        let (inbox, sink) = AsyncStream.makeStream(of: BitswapMessage.self)
        old.setStreamHandler("/ipfs/bitswap/1.0.0") { stream in
            while let bytes = try? await stream.readMessage(maxLength: BitswapMessage.maxMessageBytes) {
                if let m = try? BitswapMessage(decoding: bytes) { sink.yield(m) }
            }
        }
        try await old.start()
        try await old.connect(try S.dialAddress(host))
        let fetch = Task { try await service.fetch(theirsCID) }
        let want = try await S.within(.seconds(10)) { () -> BitswapWantEntry? in
            for await m in inbox {
                if let e = m.wantlist?.entries.first(where: { $0.cid == theirsCID }) { return e }
            }
            return nil
        }
        #expect(want??.wantType == .block && want??.sendDontHave == false, "downgraded for 1.0.0")
        let back = try await old.newStream(to: host.peerID, protocols: ["/ipfs/bitswap/1.0.0"])
        try await back.writeMessage(BitswapMessage(wantlist: BitswapWantlist(entries: [BitswapWantEntry(cid: oursCID)]), blocks: [theirs]).encoded())
        #expect(try await S.within(.seconds(10)) { try await fetch.value } == .some(theirs))
        let reply = try await S.within(.seconds(10)) { () -> BitswapMessage? in
            for await m in inbox {
                if !m.blocks.isEmpty || !m.payload.isEmpty { return m }
            }
            return nil
        }
        #expect(reply??.blocks == [ours] && reply??.payload.isEmpty == true, "1.0.0 gets raw blocks")
        await service.stop()
        await old.shutdown()
        await host.shutdown()
    }

    @Test("single fetches share a session: after the first, blocks are asked of the peer that had them, a bystander only until discovery pauses it, and two fetches of one CID share its want")
    func fetchesShareASession() async throws {
        let source = B.Store()
        let blocks = (0..<20).map { i in (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* (i + 7)) } }
        for b in blocks { source.put(CID.v1(codec: .raw, Multihash.sha256(b)), b) }
        let (server, served) = try await B.node(source)
        let (bystander, idle) = try await B.node(B.Store())
        let (client, fetcher) = try await B.node(B.Store())
        try await client.connect(try S.dialAddress(server))
        try await client.connect(try S.dialAddress(bystander))
        #expect(try await B.eventually(within: .seconds(30)) { await fetcher.bitswapPeers.count == 2 })
        for b in blocks {
            let cid = CID.v1(codec: .raw, Multihash.sha256(b))
            async let one = fetcher.fetch(cid)
            async let two = fetcher.fetch(cid)
            let (x, y) = try await (one, two)
            #expect(x == b && y == b)
        }
        let counters = await fetcher.clientCounters
        #expect(counters.blocksReceived == 20)
        // Discovery asks the bystander want-have until 8 blocks in a row came from the server
        // first, not for every block.
        #expect(counters.wantHavesSent <= 2 + 10, "the first fetch asks both peers; later ones the provider for the block, the bystander a few times")
        #expect(await idle.serverCounters.wantsReceived <= 1 + 10, "the bystander is asked for a few blocks, not for every block")
        await fetcher.stop()
        #expect(try await fetcher.fetch(CID.v1(codec: .raw, Multihash.sha256([0]))) == nil, "a stopped service answers nil at once")
        await served.stop()
        await idle.stop()
        await client.shutdown()
        await server.shutdown()
        await bystander.shutdown()
    }
}
