import Allocator
import Multiformats
import Sodium
import Testing

@Suite struct BalancedAllocatorTests {
    static let cid = CID.v1(codec: .raw, .sha256([1]))
    static let peers: [PeerID] = (0..<8).map { _ in try! PeerID(ed25519PublicKey: Ed25519.PrivateKey.generate().publicKey.bytes) }.sorted()

    static func c(_ i: Int, group: String, free: Int, queue: Int? = nil) -> Candidate {
        var m = ["tag:group": group, "freespace": String(free)]
        if let queue { m["pinqueue"] = String(queue) }
        return Candidate(peer: peers[i], metrics: m)
    }

    let allocator = BalancedAllocator(allocateBy: ["tag:group", "freespace"])

    @Test func replicasSpreadAcrossGroupsMostFreeFirst() throws {
        let cands = [
            Self.c(0, group: "a", free: 10), Self.c(1, group: "a", free: 90),
            Self.c(2, group: "b", free: 50), Self.c(3, group: "b", free: 60),
            Self.c(4, group: "c", free: 5), Self.c(5, group: "c", free: 1),
        ]
        let three = try allocator.allocate(cid: Self.cid, replicationMin: 2, replicationMax: 3, current: [], userAllocations: [], candidates: cands)
        // The best of each group, groups ordered by their best peer.
        #expect(three == [Self.peers[1], Self.peers[3], Self.peers[4]])
        let five = try allocator.allocate(cid: Self.cid, replicationMin: 5, replicationMax: 5, current: [], userAllocations: [], candidates: cands)
        #expect(five == [Self.peers[1], Self.peers[3], Self.peers[4], Self.peers[0], Self.peers[2]])
    }

    @Test func currentHoldersStayAndUserAllocationsComeFirst() throws {
        let cands = (0..<5).map { Self.c($0, group: "g", free: $0 * 10) }
        let kept = try allocator.allocate(cid: Self.cid, replicationMin: 2, replicationMax: 2, current: [Self.peers[0]], userAllocations: [], candidates: cands)
        #expect(kept == [Self.peers[0], Self.peers[4]])
        let user = try allocator.allocate(cid: Self.cid, replicationMin: 2, replicationMax: 3, current: [], userAllocations: [Self.peers[1]], candidates: cands)
        #expect(user == [Self.peers[1], Self.peers[4], Self.peers[3]])
        // A current holder that is no longer a candidate (dead) is replaced.
        let moved = try allocator.allocate(cid: Self.cid, replicationMin: 1, replicationMax: 1, current: [Self.peers[7]], userAllocations: [], candidates: cands)
        #expect(moved == [Self.peers[4]])
    }

    @Test func minimumAtTheLimit() throws {
        let cands = (0..<3).map { Self.c($0, group: "g", free: 1) }
        #expect(try allocator.allocate(cid: Self.cid, replicationMin: 3, replicationMax: 5, current: [], userAllocations: [], candidates: cands).count == 3)
        do {
            _ = try allocator.allocate(cid: Self.cid, replicationMin: 4, replicationMax: 5, current: [], userAllocations: [], candidates: cands)
            Issue.record("allocated below the minimum")
        } catch {
            #expect(error.code == .notEnoughPeers)
            #expect(error.message.contains("needed at least 4"))
            #expect(error.message.contains("3 candidate peers"))
        }
        #expect(throws: AllocationError.self) {
            _ = try allocator.allocate(cid: Self.cid, replicationMin: 3, replicationMax: 2, current: [], userAllocations: [], candidates: cands)
        }
        #expect(throws: AllocationError.self) {
            _ = try allocator.allocate(cid: Self.cid, replicationMin: 0, replicationMax: 2, current: [], userAllocations: [], candidates: cands)
        }
    }

    @Test func everywhereTakesEveryCandidate() throws {
        let cands = (0..<4).map { Self.c($0, group: "g\($0 % 2)", free: $0) }
        let all = try allocator.allocate(cid: Self.cid, replicationMin: -1, replicationMax: -1, current: [], userAllocations: [], candidates: cands)
        #expect(Set(all) == Set(Self.peers[0..<4]))
        #expect(try allocator.allocate(cid: Self.cid, replicationMin: -1, replicationMax: -1, current: [], userAllocations: [], candidates: []).isEmpty)
    }

    @Test func lowerQueueIsBetterAndMissingMetricsSortLast() throws {
        let byQueue = BalancedAllocator(allocateBy: ["pinqueue", "freespace"])
        let cands = [Self.c(0, group: "g", free: 1, queue: 9), Self.c(1, group: "g", free: 1, queue: 2), Self.c(2, group: "g", free: 99)]
        #expect(byQueue.order(cands).map(\.peer) == [Self.peers[1], Self.peers[0], Self.peers[2]])
        // Same inputs, same answer: ties by peer ID.
        let tied = (0..<4).map { Self.c($0, group: "g", free: 5) }
        #expect(allocator.order(tied.reversed()).map(\.peer) == Array(Self.peers[0..<4]))
    }

    @Test("300 small pins over 6 peers with equal free space spread: no peer holds more than 1.5 times its share")
    func tiesSpreadOverPeersByCID() throws {
        let six = (0..<6).map { Self.c($0, group: "g", free: 100_000_000_000) }
        var held: [PeerID: Int] = [:]
        for i in 0..<300 {
            let cid = CID.v1(codec: .raw, .sha256(Array("small pin \(i)".utf8)))
            for p in try allocator.allocate(cid: cid, replicationMin: 2, replicationMax: 2, current: [], userAllocations: [], candidates: six) {
                held[p, default: 0] += 1
            }
        }
        let share = 300 * 2 / 6
        #expect(held.count == 6, "peers used: \(held.count)")
        #expect(held.values.allSatisfy { $0 <= share * 3 / 2 }, "allocations per peer: \(held.values.sorted())")
    }

    @Test("free space that differs by less than its rounding ties, and the tie is the same on every call")
    func nearlyEqualFreeSpaceTiesDeterministically() throws {
        // Each peer is a few kilobytes apart: what small pins leave.
        let cands = (0..<6).map { Self.c($0, group: "g", free: 100_000_000_000 - $0 * 4_096) }
        var firsts = Set<PeerID>()
        for i in 0..<60 {
            let cid = CID.v1(codec: .raw, .sha256([UInt8(i)]))
            let a = try allocator.allocate(cid: cid, replicationMin: 1, replicationMax: 1, current: [], userAllocations: [], candidates: cands)
            let b = try allocator.allocate(cid: cid, replicationMin: 1, replicationMax: 1, current: [], userAllocations: [], candidates: cands.reversed())
            #expect(a == b)
            firsts.insert(a[0])
        }
        #expect(firsts.count == 6)
        // A real difference still wins: 10 % more free space is always chosen first.
        let roomier = cands + [Self.c(6, group: "g", free: 110_000_000_000)]
        #expect(try allocator.allocate(cid: Self.cid, replicationMin: 1, replicationMax: 1, current: [], userAllocations: [], candidates: roomier) == [Self.peers[6]])
    }
}
