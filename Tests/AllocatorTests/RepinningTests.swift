import Allocator
import Multiformats
import Sodium
import Testing

@Suite struct RepinningTests {
    static let peers: [PeerID] = (0..<10).map { _ in try! PeerID(ed25519PublicKey: Ed25519.PrivateKey.generate().publicKey.bytes) }

    @Test func oneResponsiblePeerWhateverTheOrderAndTheWorkSpreads() {
        var counts: [PeerID: Int] = [:]
        for i in 0..<2000 {
            let cid = CID.v1(codec: .raw, .sha256(withUnsafeBytes(of: UInt32(i)) { Array($0) }))
            let a = responsiblePeer(for: cid, among: Self.peers)
            #expect(a == responsiblePeer(for: cid, among: Self.peers.reversed()))
            #expect(a == responsiblePeer(for: cid, among: Self.peers.shuffled()))
            counts[a!, default: 0] += 1
        }
        // Even shares: 2,000 CIDs over 10 peers is 200 each on average (σ ≈ 13); every share
        // stays within half of that (about 7σ), whatever the random peer IDs.
        #expect(counts.count == 10)
        #expect(counts.values.allSatisfy { $0 > 100 && $0 < 300 }, "\(counts.values.sorted())")
        #expect(responsiblePeer(for: .v1(codec: .raw, .sha256([1])), among: []) == nil)
        // Removing a peer moves only its own CIDs.
        let cid = CID.v1(codec: .raw, .sha256([7]))
        let first = responsiblePeer(for: cid, among: Self.peers)!
        let without = Self.peers.filter { $0 != first }
        let second = responsiblePeer(for: cid, among: without)!
        #expect(second != first)
        #expect(responsiblePeer(for: cid, among: without.filter { $0 != Self.peers.first { $0 != first && $0 != second }! }) == second)
    }

    @Test func aFlappingPeerCausesNoChurnAndAnOutageIsDueOnce() {
        var down = DownPeers(delay: .seconds(10))
        let t0 = ContinuousClock.now
        let (a, b) = (Self.peers[0], Self.peers[1])
        down.alerted(a, at: t0)
        down.alerted(b, at: t0)
        #expect(down.due(at: t0 + .seconds(9)).isEmpty)
        down.alive(a)  // back within the delay: never due
        down.alerted(b, at: t0 + .seconds(5))  // a repeated alert does not restart the clock
        #expect(down.due(at: t0 + .seconds(10)) == [b])  // at the limit
        #expect(down.due(at: t0 + .seconds(30)).isEmpty)  // reported once
        #expect(down.missingPeers == [b])
        down.alive(b)
        down.alerted(b, at: t0 + .seconds(40))
        #expect(down.due(at: t0 + .seconds(49)).isEmpty)
        #expect(down.due(at: t0 + .seconds(50)) == [b])  // a new outage, due again
    }
}

@Suite struct RepinningMajorityTests {
    static let p = RepinningTests.peers

    @Test func onlyAPeerThatSeesAMajorityMovesPins() {
        // 5 peers: the side of 3 moves the others' pins, the side of 2 does not.
        #expect(seesMajority(live: Set(Self.p[0..<3]), missingHolders: Set(Self.p[3..<5])))
        #expect(!seesMajority(live: Set(Self.p[3..<5]), missingHolders: Set(Self.p[0..<3])))
        // At the limit: half is not a majority.
        #expect(!seesMajority(live: Set(Self.p[0..<2]), missingHolders: Set(Self.p[2..<4])))
        #expect(seesMajority(live: Set(Self.p[0..<3]), missingHolders: Set(Self.p[3..<5]).union([Self.p[0]])))
        // A dead peer whose pins were all moved no longer counts: peers lost one at a time
        // (3 of 5 gone, each repinned before the next died) still leave the last two moving pins.
        #expect(seesMajority(live: Set(Self.p[0..<2]), missingHolders: [Self.p[2]]))
        #expect(seesMajority(live: [Self.p[0]], missingHolders: []))
    }
}
