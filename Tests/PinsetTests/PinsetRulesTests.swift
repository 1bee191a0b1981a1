import ClusterModel
import ClusterTestKit
import Foundation
import Multiformats
import Pinset
import Sodium
import Testing
import UnixFS

typealias Replica = PinsetReplica<MemoryPinsetStore>
func cid(_ n: Int) -> CID { PinsetFixtures.cid(n) }
func fixturePin(_ n: Int, name: String = "") -> Pin { PinsetFixtures.pin(n, name: name) }

func replica(_ seed: UInt64, trust: TrustPolicy = .everyone) -> Replica { Replica(seed: seed, trust: trust, store: MemoryPinsetStore()) }

@Suite struct PinsetRulesTests {
    @Test func addThenRemove() throws {
        var a = replica(1)
        try a.commit([.pin(fixturePin(1)), .pin(fixturePin(2))])
        #expect(a.store.pins.keys.sorted() == [cid(1), cid(2)].sorted())
        try a.commit([.unpin(cid(1))])
        #expect(Array(a.store.pins.keys) == [cid(2)])
        #expect(a.store.heads().count == 1)
        #expect(a.store.links(of: a.store.heads()[0])?.height == 2)
    }

    @Test func removingAnAbsentKeyMakesNoDelta() throws {
        var a = replica(1)
        #expect(try a.commit([.unpin(cid(9))]).isEmpty)
    }

    @Test func updateTombstonesTheReplacedValue() throws {
        var a = replica(1)
        try a.commit([.pin(fixturePin(1, name: "old"))])
        try a.commit([.pin(fixturePin(1, name: "new"))])
        #expect(a.store.elements(of: cid(1)).count == 1)
        #expect(a.store.pins[cid(1)]?.name == "new")
    }

    @Test func concurrentAddWinsOverRemove() throws {
        var a = replica(1), b = replica(2)
        let base = try a.commit([.pin(fixturePin(1, name: "v1"))])
        try b.receive(base)
        // a removes while b re-adds, concurrently.
        let rm = try a.commit([.unpin(cid(1))])
        let re = try b.commit([.pin(fixturePin(1, name: "v2"))])
        try a.receive(re)
        try b.receive(rm)
        #expect(a.store.pins == b.store.pins)
        #expect(a.store.pins[cid(1)]?.name == "v2")
    }

    @Test func concurrentAddsPickTheSameWinnerEverywhere() throws {
        var a = replica(1), b = replica(2), c = replica(3)
        let x = try a.commit([.pin(fixturePin(1, name: "from a"))])
        let y = try b.commit([.pin(fixturePin(1, name: "from b"))])
        try c.receive(y + x)
        try a.receive(y)
        try b.receive(x)
        #expect(a.store.pins == b.store.pins)
        #expect(b.store.pins == c.store.pins)
        // Equal heights: the larger node CID wins.
        let winner = max(DeltaNode.cid(of: x[0]), DeltaNode.cid(of: y[0]))
        #expect(a.store.elements(of: cid(1)).first?.id == winner)
        // A later add from either side beats both (higher priority), and tombstones both.
        let z = try c.commit([.pin(fixturePin(1, name: "from c"))])
        try a.receive(z)
        #expect(a.store.pins[cid(1)]?.name == "from c")
        #expect(a.store.elements(of: cid(1)).count == 1)
    }

    @Test func untrustedAuthorsNeverChangeTheState() throws {
        var trusted = replica(1)
        var mallory = replica(66)
        var reader = replica(3, trust: .peers([trusted.id]))
        try reader.receive(try trusted.commit([.pin(fixturePin(1))]))
        let evil = try mallory.commit([.pin(fixturePin(2))])
        #expect(throws: PinsetError.self) { try reader.receive(evil) }
        #expect(Array(reader.store.pins.keys) == [cid(1)])
        do { try reader.receive(evil) } catch let e as PinsetError { #expect(e.code == .untrusted) }
    }

    @Test func missingParentsAndWrongHeightsAreRefused() throws {
        var a = replica(1), b = replica(2)
        let n1 = try a.commit([.pin(fixturePin(1))])
        let n2 = try a.commit([.pin(fixturePin(2))])
        do {
            try b.receive(n2)
            Issue.record("applied a node without its parent")
        } catch let e as PinsetError { #expect(e.code == .missingParents) }
        #expect(b.store.pins.isEmpty)
        try b.receive(n1 + n2)
        #expect(b.store.pins.count == 2)

        // A correctly signed node that lies about its height.
        var liar = DeltaNode(parents: [DeltaNode.cid(of: n2[0])], height: 7, author: a.id, adds: [fixturePin(3)], removes: [])
        liar.sign(with: a.key)
        do {
            try b.receive([liar.encoded()])
            Issue.record("applied a node with a wrong height")
        } catch let e as PinsetError { #expect(e.code == .badHeight) }
    }

    @Test func applyingTwiceIsANoOp() throws {
        var a = replica(1), b = replica(2)
        let n = try a.commit([.pin(fixturePin(1))])
        #expect(try b.receive(n) == 1)
        #expect(try b.receive(n) == 0)
    }

    @Test func bigBatchesSplitIntoNodesUnderTheLimit() throws {
        var a = replica(1)
        let nodes = try a.commit((0..<1_000).map { .pin(fixturePin($0, name: "file-\($0)")) })
        #expect(nodes.count > 1)
        #expect(nodes.allSatisfy { $0.count <= DeltaNode.maxBytes })
        #expect(a.store.pins.count == 1_000)
        // The chain is linear: each links the previous.
        for (i, b) in nodes.enumerated().dropFirst() {
            #expect(try DeltaNode(decoding: b).parents == [DeltaNode.cid(of: nodes[i - 1])])
        }
    }

    /// Replacing pins that carry allocations (what repinning a dead peer's pins does: each
    /// add tombstones the value it replaces) still splits into nodes under the limit, and
    /// fills them: the size estimate is an upper bound, not a guess.
    @Test func replacingPinsWithAllocationsSplitsUnderTheLimit() throws {
        var a = replica(1)
        let peers = (0..<3).map { _ in try! PeerID(ed25519PublicKey: Ed25519.PrivateKey.generate().publicKey.bytes) }
        func pin(_ n: Int, _ allocations: [PeerID]) -> Pin {
            var p = fixturePin(n, name: "pin-\(n)")
            p.allocations = allocations
            p.options.replicationFactorMin = 2
            p.options.replicationFactorMax = 2
            return p
        }
        _ = try a.commit((0..<1_000).map { .pin(pin($0, [peers[0], peers[1]])) })
        let nodes = try a.commit((0..<1_000).map { .pin(pin($0, [peers[0], peers[2]])) })
        #expect(nodes.allSatisfy { $0.count <= DeltaNode.maxBytes })
        #expect(nodes.dropLast().allSatisfy { $0.count > DeltaNode.maxBytes * 9 / 10 }, "\(nodes.map(\.count))")
        #expect(try nodes.map { try DeltaNode(decoding: $0) }.reduce(0) { $0 + $1.removes.count } == 1_000)
        #expect(a.store.pins.count == 1_000)
    }

    /// Random operations on four replicas, delivered in random (causal) orders with
    /// duplicates: every replica ends with the same state, whatever the order.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func replicasConverge(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var rs = (0..<4).map { replica(UInt64($0) + 10) }
        var all: [[UInt8]] = []
        for _ in 0..<60 {
            let i = Int(rng.next() % 4)
            let k = Int(rng.next() % 12)
            let op: PinsetOperation = rng.chance(0.35) ? .unpin(cid(k)) : .pin(fixturePin(k, name: "n\(rng.next() % 100)"))
            all += try rs[i].commit([op])
            // Sometimes sync one replica from another (a partial, causal view).
            if rng.chance(0.5) {
                let j = Int(rng.next() % 4)
                try rs[j].receive(try rs[i].missing(for: rs[j].store.heads()))
            }
        }
        for i in rs.indices {
            for j in rs.indices where i != j {
                try rs[j].receive(try rs[i].missing(for: rs[j].store.heads()))
            }
        }
        for r in rs.dropFirst() {
            #expect(r.store.pins == rs[0].store.pins)
            #expect(r.store.heads() == rs[0].store.heads())
        }
        // Replaying every node in order on a fresh replica gives the same state.
        var fresh = replica(99)
        try fresh.receive(all)
        #expect(fresh.store.pins == rs[0].store.pins)
    }
}

@Suite struct SyncWalkTests {
    /// The walk returns exactly (ancestors of want) − (ancestors of have), parents first.
    @Test(arguments: [7, 8, 9] as [UInt64])
    func matchesBruteForce(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var rs = (0..<3).map { replica(UInt64($0) + 1) }
        for step in 0..<80 {
            let i = Int(rng.next() % 3)
            try rs[i].commit([.pin(fixturePin(step))])
            if rng.chance(0.3) {
                let j = Int(rng.next() % 3)
                try rs[j].receive(try rs[i].missing(for: rs[j].store.heads()))
            }
        }
        var full = rs[0]
        for r in rs.dropFirst() { try full.receive(try r.missing(for: full.store.heads())) }
        let store = full.store
        func ancestors(_ roots: [CID]) -> Set<CID> {
            var seen = Set<CID>(), stack = roots
            while let c = stack.popLast() {
                guard seen.insert(c).inserted, let l = store.links(of: c) else { continue }
                stack += l.parents
            }
            return seen
        }
        for r in rs {
            let have = r.store.heads()
            let got = SyncWalk.missing(want: store.heads(), have: have) { store.links(of: $0) }
            #expect(Set(got) == ancestors(store.heads()).subtracting(ancestors(have)))
            #expect(got.count == Set(got).count)
            var position: [CID: Int] = [:]
            for (n, c) in got.enumerated() { position[c] = n }
            for c in got {
                for p in store.links(of: c)!.parents { if let pp = position[p] { #expect(pp < position[c]!) } }
            }
        }
        #expect(SyncWalk.missing(want: store.heads(), have: store.heads()) { store.links(of: $0) }.isEmpty)

        // A requester whose heads the responder does not know: with the sampled frontier the
        // responder still excludes what the requester has (bounded over-fetch), where the
        // bare heads would make it resend everything.
        var x = full
        try x.commit([.pin(fixturePin(9_999))])  // x's head is unknown to `full`
        let xs = x.store
        let bare = SyncWalk.missing(want: store.heads(), have: xs.heads()) { store.links(of: $0) }
        let sampled = SyncWalk.missing(want: store.heads(), have: SyncWalk.frontier(heads: xs.heads()) { xs.links(of: $0) }) {
            store.links(of: $0)
        }
        #expect(bare.count == store.nodes.count)
        #expect(sampled.isEmpty)
        #expect(SyncWalk.missing(want: [cid(12345)], have: []) { store.links(of: $0) }.isEmpty)
    }
}

extension SyncWalkTests {
    @Test func frontierSamplesAncestorsAtDoublingDistances() throws {
        var a = replica(1)
        for i in 0..<100 { try a.commit([.pin(fixturePin(i))]) }
        let s = a.store
        let f = SyncWalk.frontier(heads: s.heads()) { s.links(of: $0) }
        let heights = f.map { s.links(of: $0)!.height }
        #expect(heights == [100, 99, 98, 96, 92, 84, 68, 36])
        #expect(SyncWalk.frontier(heads: s.heads(), limit: 3) { s.links(of: $0) }.count == 3)
    }
}

@Suite struct WriteBatcherTests {
    @Test func dueByAgeOrSize() throws {
        var s = WriteBatcher.Settings()
        s.maxItems = 3
        s.maxAgeMillis = 50
        var b = WriteBatcher(settings: s)
        #expect(b.dueAt == nil)
        try b.add(.pin(fixturePin(1)), now: 100)
        #expect(b.dueAt == 150)
        #expect(b.take(now: 149).isEmpty)
        try b.add(.pin(fixturePin(2)), now: 120)
        try b.add(.pin(fixturePin(3)), now: 130)
        #expect(b.dueAt == 100)  // full: due now
        #expect(b.take(now: 130).map(\.key) == [cid(1), cid(2), cid(3)])
        #expect(b.count == 0 && b.dueAt == nil)
    }

    @Test func laterOperationOnAKeyReplacesTheEarlier() throws {
        var b = WriteBatcher()
        try b.add(.pin(fixturePin(1)), now: 0)
        try b.add(.pin(fixturePin(2)), now: 0)
        try b.add(.unpin(cid(1)), now: 0)
        #expect(b.take(now: 0, force: true) == [.unpin(cid(1)), .pin(fixturePin(2))])
    }

    @Test func queueLimitIsExact() throws {
        var s = WriteBatcher.Settings()
        s.maxQueue = 4
        s.maxItems = 100
        var b = WriteBatcher(settings: s)
        for i in 0..<4 { try b.add(.pin(fixturePin(i)), now: 0) }
        // Replacing a waiting key still fits; a fifth key does not.
        try b.add(.unpin(cid(0)), now: 0)
        do {
            try b.add(.pin(fixturePin(4)), now: 0)
            Issue.record("accepted more than max_queue")
        } catch {
            #expect(error.code == .queueFull)
            #expect(error.message.contains("max_queue"))
        }
        #expect(b.count == 4)
    }
}
