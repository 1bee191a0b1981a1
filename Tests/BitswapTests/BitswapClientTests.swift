import Bitswap
import ClusterTestKit
import Multiformats
import Testing

extension [BitswapClientAction] {
    /// The wantlist entries sent to each peer.
    var sent: [PeerID: [BitswapWantEntry]] {
        var out: [PeerID: [BitswapWantEntry]] = [:]
        for case .send(let p, let m) in self { out[p, default: []] += m.wantlist?.entries ?? [] }
        return out
    }

    var received: [CID] { compactMap { if case .received(let c, _, _, _) = $0 { c } else { nil } } }
    var notFound: [CID] { compactMap { if case .notFound(let c, _) = $0 { c } else { nil } } }
}

extension BitswapWantEntry {
    var summary: String { "\(cancel ? "cancel" : wantType == .have ? "have" : "block")" }
}

@Suite struct BitswapClientTests {
    let a = BitswapTestPeers.peer(1)
    let b = BitswapTestPeers.peer(2)
    let c = BitswapTestPeers.peer(3)
    let data = BitswapFixture.block(7)
    var cid: CID { BitswapFixture.raw(data) }

    func client(_ peers: [PeerID], version: BitswapProtocolVersion = .v1_2_0) throws -> BitswapClient {
        var client = try BitswapClient()
        for p in peers { _ = client.onPeerConnected(p, version: version, now: .zero) }
        return client
    }

    func blockMessage(_ bytes: [UInt8], as cid: CID) -> BitswapMessage {
        BitswapMessage(payload: [BitswapPayloadBlock(prefix: BitswapCIDPrefix(of: cid), data: bytes)])
    }

    func presence(_ cid: CID, _ type: BitswapPresenceType) -> BitswapMessage {
        BitswapMessage(blockPresences: [BitswapBlockPresence(cid: cid, type: type)])
    }

    @Test("a want with no provider is asked want-have of every peer; a HAVE gets a want-block; the block is delivered and cancelled elsewhere")
    func broadcastHaveBlock() throws {
        var client = try client([a, b, c])
        let s = client.newSession()
        let start = client.want([cid], session: s, now: .zero)
        #expect(start.sent.mapValues { $0.map(\.summary) } == [a: ["have"], b: ["have"], c: ["have"]])
        #expect(start.sent[a]?.first?.sendDontHave == true)
        let have = client.onMessage(from: b, presence(cid, .have), now: .milliseconds(10))
        #expect(have.sent.mapValues { $0.map(\.summary) } == [b: ["block"]])
        let got = client.onMessage(from: b, blockMessage(data, as: cid), now: .milliseconds(20))
        #expect(got.received == [cid])
        #expect(got.sent.mapValues { $0.map(\.summary) } == [a: ["cancel"], c: ["cancel"]])
        #expect(client.isFinished(s) && !client.hasWants)
        #expect(client.counters.blocksReceived == 1)
    }

    @Test("a new session's first want goes as want-block to a peer that delivered a block within the recent-provider window, want-have to the others; past the window, want-have to all")
    func recentProviderGetsTheWantBlock() throws {
        var client = try client([a, b, c])
        let first = client.newSession()
        _ = client.want([cid], session: first, now: .zero)
        _ = client.onMessage(from: b, presence(cid, .have), now: .milliseconds(1))
        #expect(client.onMessage(from: b, blockMessage(data, as: cid), now: .milliseconds(2)).received == [cid])
        let other = BitswapFixture.block(8), otherCID = BitswapFixture.raw(other)
        let second = client.newSession()
        let asked = client.want([otherCID], session: second, now: .milliseconds(3))
        #expect(asked.sent.mapValues { $0.map(\.summary) } == [a: ["have"], b: ["block"], c: ["have"]])
        let dontHave = client.onMessage(from: b, presence(otherCID, .dontHave), now: .milliseconds(4))
        #expect(dontHave.sent.isEmpty, "no other peer said HAVE yet")
        let have = client.onMessage(from: c, presence(otherCID, .have), now: .milliseconds(5))
        #expect(have.sent.mapValues { $0.map(\.summary) } == [c: ["block"]])

        let third = client.newSession()
        let late = BitswapFixture.raw(BitswapFixture.block(9))
        let window = client.settings.recentProviderWindow
        let stale = client.want([late], session: third, now: .milliseconds(2) + window + .milliseconds(1))
        #expect(stale.sent.mapValues { $0.map(\.summary) } == [a: ["have"], b: ["have"], c: ["have"]])
    }

    @Test("a DONT_HAVE from the peer asked for the block moves the want-block to the next peer that said HAVE")
    func dontHaveMovesOn() throws {
        var client = try client([a, b])
        let s = client.newSession()
        _ = client.want([cid], session: s, now: .zero)
        _ = client.onMessage(from: a, presence(cid, .have), now: .zero)
        #expect(client.onMessage(from: b, presence(cid, .have), now: .zero).sent.isEmpty, "one want-block at a time")
        let moved = client.onMessage(from: a, presence(cid, .dontHave), now: .milliseconds(5))
        #expect(moved.sent.mapValues { $0.map(\.summary) } == [b: ["block"]])
    }

    @Test("a want-block unanswered for the block timeout moves to the next holder; not before")
    func blockTimeout() throws {
        var client = try client([a, b])
        let timeout = client.settings.blockTimeout
        let s = client.newSession()
        _ = client.want([cid], session: s, now: .zero)
        _ = client.onMessage(from: a, presence(cid, .have), now: .zero)
        _ = client.onMessage(from: b, presence(cid, .have), now: .zero)
        #expect(client.onTick(now: timeout - .milliseconds(1)).sent.isEmpty)
        #expect(client.onTick(now: timeout).sent.mapValues { $0.map(\.summary) } == [b: ["block"]])
    }

    @Test("a want nobody has is asked again every rebroadcast interval and given up after the give-up time")
    func rebroadcastAndGiveUp() throws {
        var client = try client([a])
        let st = client.settings
        let s = client.newSession()
        _ = client.want([cid], session: s, now: .zero)
        _ = client.onMessage(from: a, presence(cid, .dontHave), now: .milliseconds(1))
        #expect(client.onTick(now: st.rebroadcastInterval - .milliseconds(1)).sent.isEmpty)
        #expect(client.onTick(now: st.rebroadcastInterval).sent.mapValues { $0.map(\.summary) } == [a: ["have"]])
        #expect(client.onTick(now: st.giveUpAfter - .milliseconds(1)).notFound.isEmpty)
        let gaveUp = client.onTick(now: st.giveUpAfter)
        #expect(gaveUp.notFound == [cid])
        #expect(gaveUp.sent.mapValues { $0.map(\.summary) } == [a: ["cancel"]])
        #expect(client.isFinished(s) && client.counters.notFound == 1)
    }

    @Test("blocks nobody wanted, with a wrong hash, or unverifiable are counted and never delivered")
    func rejectsBadBlocks() throws {
        var client = try client([a])
        let s = client.newSession()
        _ = client.want([cid], session: s, now: .zero)
        let forged = client.onMessage(from: a, blockMessage(BitswapFixture.block(8), as: cid), now: .zero)
        #expect(forged.received.isEmpty)
        #expect(forged == [.rejected(a, .unwanted(BitswapFixture.raw(BitswapFixture.block(8))))])
        let odd = BitswapCIDPrefix(version: .v1, codec: .raw, hashCode: Multicodec(rawValue: 0x1e), hashLength: 32)
        let unverifiable = client.onMessage(from: a, BitswapMessage(payload: [BitswapPayloadBlock(prefix: odd, data: data)]), now: .zero)
        #expect(unverifiable == [.rejected(a, .unverifiable(odd))])
        #expect(client.counters.blocksUnwanted == 1 && client.counters.blocksUnverifiable == 1)
        #expect(client.wantedCIDs == [cid])
        #expect(client.onMessage(from: a, blockMessage(data, as: cid), now: .zero).received == [cid])
        #expect(client.onMessage(from: a, blockMessage(data, as: cid), now: .zero).received.isEmpty, "a duplicate is not delivered twice")
        #expect(client.counters.blocksUnwanted == 2)
    }

    @Test("a raw 1.0.0 block is matched to a CIDv1 dag-pb want by its multihash")
    func rawBlockMatchesByMultihash() throws {
        var client = try client([a], version: .v1_0_0)
        let s = client.newSession()
        let want = CID.v1(codec: .dagPB, Multihash.sha256(data))
        let start = client.want([want], session: s, now: .zero)
        #expect(start.sent[a]?.map(\.summary) == ["block"], "a 1.0.0 peer is asked for the block")
        #expect(client.onMessage(from: a, BitswapMessage(blocks: [data]), now: .zero).received == [want])
    }

    @Test("a session keeps at most its window in flight and refills it as blocks arrive")
    func sessionWindow() throws {
        var client = try client([a])
        let s = client.newSession()
        let blocks = (0..<100).map { BitswapFixture.block($0) }
        let cids = blocks.map(BitswapFixture.raw)
        _ = client.want(cids, session: s, now: .zero)
        #expect(client.wantedCIDs.count == client.settings.sessionWindow)
        let next = client.onMessage(from: a, blockMessage(blocks[0], as: cids[0]), now: .zero)
        #expect(next.received == [cids[0]])
        #expect(next.sent[a]?.map(\.cid) == [cids[client.settings.sessionWindow]], "a provider now: straight to want-block")
        #expect(next.sent[a]?.first?.wantType == .block)
        #expect(client.wantedCIDs.count == client.settings.sessionWindow)
    }

    @Test("a session spreads want-blocks over its providers")
    func spreadsOverProviders() throws {
        var client = try client([a, b])
        let s = client.newSession()
        let blocks = (0..<41).map { BitswapFixture.block($0) }
        let cids = blocks.map(BitswapFixture.raw)
        _ = client.want([cids[0]], session: s, now: .zero)
        _ = client.onMessage(from: a, presence(cids[0], .have), now: .zero)
        _ = client.onMessage(from: b, presence(cids[0], .have), now: .zero)
        let more = client.want(Array(cids[1...40]), session: s, now: .zero)
        let blockAsks = more.sent.mapValues { $0.filter { $0.wantType == .block }.count }
        #expect(blockAsks[a].map { abs($0 - (blockAsks[b] ?? 0)) <= 1 } == true, "\(blockAsks)")
        #expect((blockAsks[a] ?? 0) + (blockAsks[b] ?? 0) == client.settings.sessionWindow - 1)
    }

    @Test("a session with a provider also asks one other connected peer want-have per new want, in turn; one that says HAVE becomes a provider and gets want-blocks")
    func discoversMoreProviders() throws {
        var client = try client([a, b, c])
        let s = client.newSession()
        let blocks = (0..<4).map { BitswapFixture.block(40 + $0) }
        let cids = blocks.map(BitswapFixture.raw)
        _ = client.want([cids[0]], session: s, now: .zero)
        _ = client.onMessage(from: a, presence(cids[0], .have), now: .zero)
        #expect(client.onMessage(from: a, blockMessage(blocks[0], as: cids[0]), now: .zero).received == [cids[0]])
        let others = [b, c].sorted()
        let two = client.want([cids[1], cids[2]], session: s, now: .zero).sent
        #expect(two[a]?.map(\.summary) == ["block", "block"])
        #expect(two[others[0]]?.map(\.cid) == [cids[1]] && two[others[0]]?.map(\.summary) == ["have"])
        #expect(two[others[1]]?.map(\.cid) == [cids[2]] && two[others[1]]?.map(\.summary) == ["have"])
        #expect(client.onMessage(from: others[0], presence(cids[1], .have), now: .zero).sent.isEmpty, "the want-block stays with a")
        let third = client.want([cids[3]], session: s, now: .zero).sent
        #expect(third.mapValues { $0.map(\.summary) } == [others[0]: ["block"], a: ["have"], others[1]: ["have"]],
                "the new provider is the least busy; the last non-provider is asked")
    }

    @Test("a non-provider that had not said HAVE when 8 of a session's wants in a row were delivered by another peer is left out of its discovery for the pause, then asked again")
    func discoveryPausesAPeerThatHasNothing() throws {
        var client = try client([a, b])
        let st = client.settings
        let s = client.newSession()
        let blocks = (0..<12).map { BitswapFixture.block(60 + $0) }
        let cids = blocks.map(BitswapFixture.raw)
        _ = client.want([cids[0]], session: s, now: .zero)
        _ = client.onMessage(from: b, presence(cids[0], .dontHave), now: .zero)
        #expect(client.onMessage(from: a, blockMessage(blocks[0], as: cids[0]), now: .zero).received == [cids[0]])
        for i in 1..<st.discoveryMisses {
            #expect(client.want([cids[i]], session: s, now: .zero).sent[b]?.map(\.summary) == ["have"], "want \(i)")
            _ = client.onMessage(from: b, presence(cids[i], .dontHave), now: .zero)
            _ = client.onMessage(from: a, blockMessage(blocks[i], as: cids[i]), now: .zero)
        }
        let paused = st.discoveryMisses
        #expect(client.want([cids[paused]], session: s, now: .seconds(1)).sent.mapValues { $0.map(\.summary) } == [a: ["block"]])
        _ = client.onMessage(from: a, blockMessage(blocks[paused], as: cids[paused]), now: .seconds(1))
        let before = client.want([cids[paused + 1]], session: s, now: st.discoveryPause - .milliseconds(1))
        #expect(before.sent[b] == nil, "still paused")
        _ = client.onMessage(from: a, blockMessage(blocks[paused + 1], as: cids[paused + 1]), now: st.discoveryPause)
        #expect(client.want([cids[paused + 2]], session: s, now: st.discoveryPause).sent[b]?.map(\.summary) == ["have"], "asked again after the pause")
    }

    @Test("with discovery off, a session with a provider asks only its providers")
    func discoveryOff() throws {
        var settings = BitswapClientSettings()
        settings.discoveryPeersPerWant = 0
        var client = try BitswapClient(settings: settings)
        for p in [a, b] { _ = client.onPeerConnected(p, version: .v1_2_0, now: .zero) }
        let s = client.newSession()
        let first = BitswapFixture.block(50), next = BitswapFixture.raw(BitswapFixture.block(51))
        _ = client.want([BitswapFixture.raw(first)], session: s, now: .zero)
        _ = client.onMessage(from: a, blockMessage(first, as: BitswapFixture.raw(first)), now: .zero)
        #expect(client.want([next], session: s, now: .zero).sent.mapValues { $0.map(\.summary) } == [a: ["block"]])
        settings.discoveryPeersPerWant = 17
        #expect(throws: BitswapError.self) { try settings.validate() }
        settings.discoveryPeersPerWant = 16
        settings.discoveryMisses = 0
        #expect(throws: BitswapError.self) { try settings.validate() }
        settings.discoveryMisses = 1
        settings.discoveryPause = .milliseconds(-1)
        #expect(throws: BitswapError.self) { try settings.validate() }
        settings.discoveryPause = .zero
        #expect(throws: Never.self) { try settings.validate() }
    }

    @Test("a disconnect moves the want-block to another holder, and closing a session cancels its wants")
    func disconnectAndClose() throws {
        var client = try client([a, b])
        let s = client.newSession()
        _ = client.want([cid], session: s, now: .zero)
        _ = client.onMessage(from: a, presence(cid, .have), now: .zero)
        _ = client.onMessage(from: b, presence(cid, .have), now: .zero)
        #expect(client.onPeerDisconnected(a, now: .zero).sent.mapValues { $0.map(\.summary) } == [b: ["block"]])
        #expect(client.closeSession(s).sent.mapValues { $0.map(\.summary) } == [b: ["cancel"]])
        #expect(!client.hasWants)
    }

    @Test("a peer that connects later is asked for the wants no peer is known to have")
    func lateConnect() throws {
        var client = try client([])
        let s = client.newSession()
        #expect(client.want([cid], session: s, now: .zero).isEmpty)
        #expect(client.onPeerConnected(a, version: .v1_2_0, now: .seconds(1)).sent.mapValues { $0.map(\.summary) } == [a: ["have"]])
    }

    @Test("two sessions wanting one CID share the want and both get the block")
    func sharedWant() throws {
        var client = try client([a])
        let s1 = client.newSession()
        let s2 = client.newSession()
        _ = client.want([cid], session: s1, now: .zero)
        #expect(client.want([cid], session: s2, now: .zero).isEmpty)
        let got = client.onMessage(from: a, blockMessage(data, as: cid), now: .zero)
        #expect(got.contains(.received(cid, data, from: a, sessions: [s1, s2])))
    }

    @Test("settings out of range are refused")
    func settings() {
        var s = BitswapClientSettings()
        s.sessionWindow = 0
        #expect(throws: BitswapError.self) { try s.validate() }
        s = BitswapClientSettings()
        s.maxLiveWants = s.sessionWindow - 1
        #expect(throws: BitswapError.self) { try s.validate() }
    }
}

@Suite struct BitswapClientCancelTests {
    let a = BitswapTestPeers.peer(1)

    @Test("withdrawing a CID in flight cancels it with the peers asked and lets the next queued one start; a queued one just leaves")
    func cancelInFlightAndQueued() throws {
        var settings = BitswapClientSettings()
        settings.sessionWindow = 2
        var client = try BitswapClient(settings: settings)
        _ = client.onPeerConnected(a, version: .v1_2_0, now: .zero)
        let s = client.newSession()
        let cids = (0..<4).map(BitswapFixture.cid)
        _ = client.want(cids, session: s, now: .zero)
        #expect(client.wantedCIDs == [cids[0], cids[1]].sorted())
        let out = client.cancel([cids[0], cids[3]], session: s, now: .zero)
        #expect(out.sent[a]?.map(\.summary) == ["cancel", "have"])
        #expect(out.sent[a]?.map(\.cid) == [cids[0], cids[2]])
        #expect(client.wantedCIDs == [cids[1], cids[2]].sorted())
        _ = client.cancel([cids[1], cids[2]], session: s, now: .zero)
        #expect(!client.hasWants && client.isFinished(s), "the withdrawn queued CID never started")
    }

    @Test("withdrawing a CID another session still wants keeps the want")
    func cancelShared() throws {
        var client = try BitswapClient()
        _ = client.onPeerConnected(a, version: .v1_2_0, now: .zero)
        let s1 = client.newSession()
        let s2 = client.newSession()
        let cid = BitswapFixture.cid(1)
        _ = client.want([cid], session: s1, now: .zero)
        _ = client.want([cid], session: s2, now: .zero)
        #expect(client.cancel([cid], session: s1, now: .zero).isEmpty)
        #expect(client.wantedCIDs == [cid])
    }
}
