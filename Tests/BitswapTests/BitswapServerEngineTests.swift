import Bitswap
import ClusterTestKit
import Multiformats
import Testing

/// Peers for tests: deterministic Ed25519 peer IDs.
enum BitswapTestPeers {
    static func peer(_ n: UInt8) -> PeerID {
        try! PeerID(ed25519PublicKey: [UInt8](repeating: n, count: 32))
    }
}

/// A blockstore for the engine: answers every lookUp action from `blocks`.
struct BitswapServerHarness {
    var engine: BitswapServerEngine
    var blocks: [CID: [UInt8]] = [:]
    var sent: [(PeerID, BitswapMessage)] = []

    init(settings: BitswapServerSettings = BitswapServerSettings()) throws {
        engine = try BitswapServerEngine(settings: settings)
    }

    mutating func store(_ data: [UInt8]) -> CID {
        let cid = BitswapFixture.raw(data)
        blocks[cid] = data
        return cid
    }

    /// Runs actions, answering lookups at once; sends are collected (not acknowledged).
    mutating func run(_ actions: [BitswapServerAction]) {
        var pending = actions
        while !pending.isEmpty {
            let a = pending.removeFirst()
            switch a {
            case .lookUp(let cids): pending += engine.onLookup(cids.map { ($0, blocks[$0]) })
            case .send(let p, let m): sent.append((p, m))
            }
        }
    }

    mutating func receive(_ peer: PeerID, _ entries: [BitswapWantEntry], full: Bool = false) {
        run(engine.onMessage(from: peer, BitswapMessage(wantlist: BitswapWantlist(entries: entries, full: full))))
    }

    mutating func takeSent() -> [(PeerID, BitswapMessage)] {
        defer { sent = [] }
        return sent
    }

    /// Acknowledges every collected message, collecting what follows.
    mutating func acknowledgeAll() {
        while !sent.isEmpty {
            let batch = takeSent()
            for (p, m) in batch { run(engine.onMessageSent(to: p, m)) }
            acknowledged += batch
        }
    }

    var acknowledged: [(PeerID, BitswapMessage)] = []
}

@Suite struct BitswapServerEngineTests {
    let alice = BitswapTestPeers.peer(1)
    let bob = BitswapTestPeers.peer(2)

    @Test("a want-block for a stored block is answered with the block, and the want leaves the ledger")
    func wantBlock() throws {
        var h = try BitswapServerHarness()
        let data = BitswapFixture.block(1, size: 5000)
        let cid = h.store(data)
        let actions = h.engine.onMessage(from: alice, BitswapMessage(wantlist: BitswapWantlist(entries: [BitswapWantEntry(cid: cid)])))
        #expect(actions == [.lookUp([cid])])
        h.run(actions)
        let sent = h.takeSent()
        #expect(sent.count == 1 && sent[0].0 == alice)
        #expect(sent[0].1.payload == [BitswapPayloadBlock(prefix: BitswapCIDPrefix(of: cid), data: data)])
        #expect(sent[0].1.hashedBlocks().map(\.cid) == [cid])
        #expect(h.engine.wantlist(of: alice).isEmpty)
        #expect(h.engine.counters.blocksSent == 1 && h.engine.counters.blockBytesSent == 5000)
    }

    @Test("a want-have is answered HAVE for a large block and with the block itself up to 1,024 bytes")
    func wantHave() throws {
        var h = try BitswapServerHarness()
        let small = h.store(BitswapFixture.block(1, size: 1024))
        let large = h.store(BitswapFixture.block(2, size: 1025))
        h.receive(alice, [BitswapWantEntry(cid: small, wantType: .have), BitswapWantEntry(cid: large, wantType: .have)])
        let messages = h.takeSent().map(\.1)
        #expect(messages.flatMap(\.payload).map(\.data) == [h.blocks[small]!])
        #expect(messages.flatMap(\.blockPresences) == [BitswapBlockPresence(cid: large, type: .have)])
        #expect(h.engine.wantlist(of: alice).isEmpty)
    }

    @Test("a missing block is answered DONT_HAVE once when asked, stays wanted, and is sent when it is stored")
    func missingThenStored() throws {
        var h = try BitswapServerHarness()
        let data = BitswapFixture.block(3)
        let cid = BitswapFixture.raw(data)
        let silent = BitswapFixture.cid(4)
        h.receive(alice, [BitswapWantEntry(cid: cid, sendDontHave: true), BitswapWantEntry(cid: silent)])
        #expect(h.takeSent().map(\.1.blockPresences) == [[BitswapBlockPresence(cid: cid, type: .dontHave)]])
        h.run(h.engine.onLookup(cid, block: nil))
        #expect(h.takeSent().isEmpty, "DONT_HAVE is sent once")
        #expect(h.engine.wantlist(of: alice).map(\.cid).sorted() == [cid, silent].sorted())
        h.blocks[cid] = data
        let stored = h.engine.onBlockStored(cid)
        #expect(stored == [.lookUp([cid])])
        h.run(stored)
        #expect(h.takeSent().map { $0.1.payload.map(\.data) } == [[data]])
        #expect(h.engine.onBlockStored(cid) == [], "nobody wants it any more")
    }

    @Test("asking again for a want already in the ledger looks it up again and may answer DONT_HAVE again")
    func reask() throws {
        var h = try BitswapServerHarness()
        let cid = BitswapFixture.cid(5)
        h.receive(alice, [BitswapWantEntry(cid: cid, sendDontHave: true)])
        h.receive(alice, [BitswapWantEntry(cid: cid, sendDontHave: true)])
        #expect(h.takeSent().count == 2)
    }

    @Test("a cancel removes the want and the answer queued for it")
    func cancel() throws {
        var s = BitswapServerSettings()
        s.maxOutstandingBytesPerPeer = 1
        s.targetMessageBytes = 1000
        var h = try BitswapServerHarness(settings: s)
        let a = h.store(BitswapFixture.block(1, size: 2000))
        let b = h.store(BitswapFixture.block(2, size: 2000))
        h.receive(alice, [BitswapWantEntry(cid: a, priority: 2), BitswapWantEntry(cid: b, priority: 1)])
        #expect(h.takeSent().map(\.1.payload.count) == [1], "one message, then the budget is spent")
        #expect(h.engine.queuedBytes(for: alice) == 2000)
        h.receive(alice, [.cancel(b)])
        #expect(h.engine.queuedBytes(for: alice) == 0)
        #expect(h.engine.counters.cancelsReceived == 1)
    }

    @Test("a full wantlist replaces the ledger; an incremental one adds to it")
    func fullWantlist() throws {
        var h = try BitswapServerHarness()
        let (a, b, c) = (BitswapFixture.cid(1), BitswapFixture.cid(2), BitswapFixture.cid(3))
        h.receive(alice, [BitswapWantEntry(cid: a), BitswapWantEntry(cid: b)])
        h.receive(alice, [BitswapWantEntry(cid: c)])
        #expect(h.engine.wantlist(of: alice).count == 3)
        h.receive(alice, [BitswapWantEntry(cid: b), BitswapWantEntry(cid: c)], full: true)
        #expect(Set(h.engine.wantlist(of: alice).map(\.cid)) == [b, c])
        h.receive(alice, [], full: true)
        #expect(h.engine.wantlist(of: alice).isEmpty)
    }

    @Test("a peer keeps at most maxWantsPerPeer wants; one more is answered DONT_HAVE and not kept")
    func wantLimit() throws {
        var s = BitswapServerSettings()
        s.maxWantsPerPeer = 4
        var h = try BitswapServerHarness(settings: s)
        h.receive(alice, (0..<4).map { BitswapWantEntry(cid: BitswapFixture.cid($0)) })
        #expect(h.engine.wantlist(of: alice).count == 4)
        #expect(h.engine.counters.wantsOverflowed == 0)
        h.receive(alice, [BitswapWantEntry(cid: BitswapFixture.cid(9), sendDontHave: true)])
        #expect(h.engine.wantlist(of: alice).count == 4)
        #expect(h.engine.counters.wantsOverflowed == 1)
        #expect(h.takeSent().map(\.1.blockPresences) == [[BitswapBlockPresence(cid: BitswapFixture.cid(9), type: .dontHave)]])
        h.receive(bob, [BitswapWantEntry(cid: BitswapFixture.cid(9))])
        #expect(h.engine.wantlist(of: bob).count == 1, "the limit is per peer")
    }

    @Test("answers are split into messages of about the target size, each under 4 MiB, highest priority first")
    func splitting() throws {
        var s = BitswapServerSettings()
        s.targetMessageBytes = 10_000
        s.maxOutstandingBytesPerPeer = 1 << 30
        s.maxQueuedBytesPerPeer = 1 << 30
        var h = try BitswapServerHarness(settings: s)
        let cids = (0..<20).map { h.store(BitswapFixture.block($0, size: 3000)) }
        let big = h.store(BitswapFixture.block(99, size: BitswapMessage.maxBlockBytes))
        h.receive(alice, cids.enumerated().map { BitswapWantEntry(cid: $1, priority: Int32($0)) } + [BitswapWantEntry(cid: big, priority: -1)])
        let messages = h.takeSent().map(\.1)
        #expect(messages.count == 8)
        for m in messages.dropLast() { #expect(m.encoded().count <= 10_000) }
        #expect(messages.last?.payload.map(\.data.count) == [BitswapMessage.maxBlockBytes])
        #expect(messages.allSatisfy { $0.encoded().count < BitswapMessage.maxMessageBytes })
        let order = messages.flatMap(\.payload).compactMap { p in cids.firstIndex { h.blocks[$0] == p.data } }
        #expect(order == Array((0..<20).reversed()))
        #expect(messages.first?.pendingBytes == Int32(17 * 3000 + BitswapMessage.maxBlockBytes))
    }

    @Test("at the outstanding-bytes budget messages wait; reporting them sent lets the rest go")
    func outstandingBudget() throws {
        var s = BitswapServerSettings()
        s.targetMessageBytes = 1000
        s.maxOutstandingBytesPerPeer = 2000
        var h = try BitswapServerHarness(settings: s)
        let cids = (0..<10).map { h.store(BitswapFixture.block($0, size: 900)) }
        h.receive(alice, cids.map { BitswapWantEntry(cid: $0) })
        #expect(h.takeSent().count == 3, "900+16 bytes each: three fit under 2,000 outstanding")
        #expect(h.engine.queuedBytes(for: alice) == 7 * 900)
        h.run(h.engine.onMessageSent(to: alice, BitswapMessage(payload: [BitswapPayloadBlock(prefix: .v0, data: [UInt8](repeating: 0, count: 900))])))
        #expect(h.takeSent().count == 1)
    }

    @Test("blocks over the queued-bytes limit stay wanted and are looked up again when the queue drains")
    func queuedBytesLimit() throws {
        var s = BitswapServerSettings()
        s.maxQueuedBytesPerPeer = BitswapMessage.maxBlockBytes
        s.maxOutstandingBytesPerPeer = 1
        s.deferredLookupBatch = 2
        var h = try BitswapServerHarness(settings: s)
        let cids = (0..<6).map { h.store(BitswapFixture.block($0, size: 1 << 20)) }
        h.receive(alice, cids.map { BitswapWantEntry(cid: $0) })
        #expect(h.sent.map(\.1.payload.count) == [1])
        #expect(h.engine.queuedBytes(for: alice) == 1 << 20, "two blocks were held (the limit holds exactly two), one went out")
        h.acknowledgeAll()
        #expect(h.acknowledged.flatMap(\.1.payload).count == 6)
        #expect(h.engine.wantlist(of: alice).isEmpty)
    }

    @Test("a disconnect forgets the peer; identity CIDs are ignored")
    func disconnectAndIdentity() throws {
        var h = try BitswapServerHarness()
        let cid = BitswapFixture.cid(1)
        let inline = CID.v1(codec: .raw, try Multihash.identity([1, 2, 3]))
        h.receive(alice, [BitswapWantEntry(cid: cid), BitswapWantEntry(cid: inline, sendDontHave: true)])
        #expect(h.engine.wantlist(of: alice).map(\.cid) == [cid])
        #expect(h.engine.counters.wantsIgnored == 1)
        h.engine.onPeerDisconnected(alice)
        #expect(h.engine.wantlist(of: alice).isEmpty)
        #expect(h.engine.onBlockStored(cid) == [])
    }

    @Test("two peers wanting one block cause one lookup and get one message each, in peer order")
    func twoPeers() throws {
        var h = try BitswapServerHarness()
        let data = BitswapFixture.block(1)
        let cid = BitswapFixture.raw(data)
        _ = h.engine.onMessage(from: bob, BitswapMessage(wantlist: BitswapWantlist(entries: [BitswapWantEntry(cid: cid)])))
        #expect(h.engine.onMessage(from: alice, BitswapMessage(wantlist: BitswapWantlist(entries: [BitswapWantEntry(cid: cid)]))) == [])
        let sends = h.engine.onLookup(cid, block: data)
        #expect(sends.map { a -> PeerID? in if case .send(let p, _) = a { p } else { nil } } == [alice, bob].sorted())
    }

    @Test("settings out of range are refused, naming the setting")
    func settings() {
        var s = BitswapServerSettings()
        s.maxQueuedBytesPerPeer = BitswapMessage.maxBlockBytes - 1
        #expect { try s.validate() } throws: { ($0 as? BitswapError)?.message.contains("maxQueuedBytesPerPeer") == true }
        s = BitswapServerSettings()
        s.targetMessageBytes = BitswapMessage.maxMessageBytes / 2 + 1
        #expect(throws: BitswapError.self) { try s.validate() }
        #expect(throws: Never.self) { try BitswapServerSettings().validate() }
    }
}
