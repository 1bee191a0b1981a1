import ClusterModel
import ClusterTestKit
import Foundation
import Multiformats
import Pinset
import Sodium
import Testing
import UnixFS

/// Re-allocation (`Specs/pinset-crdt.md`, "Re-allocation"): the cluster moving a dead peer's
/// pins must never bring back a pin that was unpinned concurrently (the defect the chaos
/// suite found: a partitioned peer's re-allocation beat an acknowledged unpin).
@Suite struct PinsetReallocationTests {
    static func moved(_ n: Int, to peers: [Int]) -> Pin {
        var p = fixturePin(n)
        p.allocations = peers.map { PinsetFixtures.peer($0) }
        return p
    }

    /// Delivers every node each replica has to every other, in the order given.
    static func exchange(_ replicas: inout [Replica]) throws {
        for i in replicas.indices {
            for j in replicas.indices where i != j {
                try replicas[j].receive(try replicas[i].missing(for: replicas[j].store.heads()))
            }
        }
    }

    @Test func aReallocationConcurrentWithAnUnpinLosesInBothOrders() throws {
        for unpinFirst in [false, true] {
            var a = replica(1), b = replica(2), c = replica(3)
            let base = try a.commit([.pin(fixturePin(1))])
            try b.receive(base)
            try c.receive(base)
            // a (cut off) re-allocates while b unpins.
            let re = try a.commit([.reallocate(Self.moved(1, to: [10, 11]))])
            let rm = try b.commit([.unpin(cid(1))])
            #expect(a.store.pins[cid(1)]?.allocations == [PinsetFixtures.peer(10), PinsetFixtures.peer(11)])
            try a.receive(rm)
            try b.receive(re)
            try c.receive(unpinFirst ? rm + re : re + rm)
            for r in [a, b, c] { #expect(r.store.pins[cid(1)] == nil, "unpin first: \(unpinFirst)") }
        }
    }

    @Test func concurrentReallocationsKeepThePinWithOneWinnerEverywhere() throws {
        var a = replica(1), b = replica(2), c = replica(3)
        let base = try a.commit([.pin(fixturePin(1))])
        try b.receive(base)
        try c.receive(base)
        let x = try a.commit([.reallocate(Self.moved(1, to: [10]))])
        let y = try b.commit([.reallocate(Self.moved(1, to: [11]))])
        try a.receive(y)
        try b.receive(x)
        try c.receive(y + x)
        #expect(a.store.pins == b.store.pins)
        #expect(b.store.pins == c.store.pins)
        let winner = max(DeltaNode.cid(of: x[0]), DeltaNode.cid(of: y[0]))
        let expected = winner == DeltaNode.cid(of: x[0]) ? 10 : 11
        #expect(c.store.pins[cid(1)]?.allocations == [PinsetFixtures.peer(expected)])
        #expect(c.store.elements(of: cid(1)).count == 1)
        #expect(c.store.elements(of: cid(1))[0].overlay?.id == winner)
        // A later re-allocation that saw both wins over both.
        let z = try c.commit([.reallocate(Self.moved(1, to: [12]))])
        try a.receive(z)
        #expect(a.store.pins[cid(1)]?.allocations == [PinsetFixtures.peer(12)])
    }

    @Test func aUsersConcurrentPinKeepsThePinWithTheUsersValue() throws {
        var a = replica(1), b = replica(2)
        let base = try a.commit([.pin(fixturePin(1, name: "old"))])
        try b.receive(base)
        let re = try a.commit([.reallocate(Self.moved(1, to: [10]))])
        let user = try b.commit([.pin(fixturePin(1, name: "new"))])
        try a.receive(user)
        try b.receive(re)
        #expect(a.store.pins == b.store.pins)
        #expect(a.store.pins[cid(1)]?.name == "new")
        #expect(a.store.pins[cid(1)]?.allocations == fixturePin(1).allocations)
    }

    /// A re-allocation computed from a value that a user's update replaced before it was
    /// committed (on the same peer) leaves the update alone.
    @Test func aReallocationOnlyTouchesTheElementsItWasDerivedFrom() throws {
        var a = replica(1)
        try a.commit([.pin(fixturePin(1, name: "old"))])
        let basis = a.store.elements(of: cid(1)).map(\.id)
        var moved = Self.moved(1, to: [10])
        moved.options.name = "old"
        try a.commit([.pin(fixturePin(1, name: "new"))])  // the user's update, in between
        #expect(try a.commit([.reallocate(moved, basis: basis)]).isEmpty)
        #expect(a.store.pins[cid(1)]?.name == "new")
        #expect(a.store.pins[cid(1)]?.allocations == fixturePin(1).allocations)
        // With the current elements as its basis it applies.
        let now = a.store.elements(of: cid(1)).map(\.id)
        #expect(try a.commit([.reallocate(Self.moved(1, to: [11]), basis: now)]).count == 1)
        #expect(a.store.pins[cid(1)]?.allocations == [PinsetFixtures.peer(11)])
    }

    @Test func aReallocationOfAnAbsentPinMakesNoDelta() throws {
        var a = replica(1)
        #expect(try a.commit([.reallocate(Self.moved(1, to: [10]))]).isEmpty)
        try a.commit([.pin(fixturePin(2))])
        // Mixed with other operations it is dropped alone.
        let made = try a.commit([.reallocate(Self.moved(1, to: [10])), .pin(fixturePin(3))])
        #expect(made.count == 1)
        #expect(a.store.pins[cid(1)] == nil)
        #expect(try DeltaNode(decoding: made[0]).reallocations.isEmpty)
    }

    /// The interleaving that defeats a rule "drop a re-allocation whose element is gone when the
    /// key has no other element": an unpin, then a fresh pin made after it, concurrent with a
    /// re-allocation of the old element. Every causal order of the three ends in one state.
    @Test func everyOrderOfReallocationUnpinAndFreshPinEndsTheSame() throws {
        var a = replica(1), b = replica(2)
        let base = try a.commit([.pin(fixturePin(1, name: "first"))])
        try b.receive(base)
        let re = try a.commit([.reallocate(Self.moved(1, to: [10]))])
        let rm = try b.commit([.unpin(cid(1))])
        let fresh = try b.commit([.pin(fixturePin(1, name: "second"))])
        var states: [[CID: Pin]] = []
        for order in [[re, rm, fresh], [rm, re, fresh], [rm, fresh, re]] {
            var c = replica(3)
            try c.receive(base)
            for n in order { try c.receive(n) }
            states.append(c.store.pins)
        }
        #expect(Set(states.map { $0[cid(1)]?.name }) == ["second"])
        #expect(states.allSatisfy { $0 == states[0] })
        #expect(states[0][cid(1)]?.allocations == fixturePin(1).allocations)
    }

    /// Random histories over four replicas with partial deliveries: the replicas converge, and
    /// which pins exist is exactly what the same history without its re-allocations gives
    /// (re-allocations change values, never presence).
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func reallocationsNeverChangeWhichPinsExist(seed: UInt64) throws {
        func run(skippingReallocations: Bool) throws -> (replicas: [Replica], reallocations: Int) {
            var made = 0
            var rng = SplitMix64(seed: seed)
            var replicas = (0..<4).map { replica(UInt64(100 + $0)) }
            for step in 0..<300 {
                let r = Int(rng.next() % 4)
                let key = 1 + Int(rng.next() % 5)
                let roll = rng.next() % 100
                switch roll {
                case 0..<30: try replicas[r].commit([.pin(fixturePin(key, name: "s\(step)"))])
                case 30..<50: try replicas[r].commit([.unpin(cid(key))])
                case 50..<75:
                    let to = Int(rng.next() % 20)
                    if !skippingReallocations { made += try replicas[r].commit([.reallocate(Self.moved(key, to: [to]))]).count }
                default:
                    let to = (r + 1 + Int(rng.next() % 3)) % 4
                    try replicas[to].receive(try replicas[r].missing(for: replicas[to].store.heads()))
                }
            }
            try Self.exchange(&replicas)
            try Self.exchange(&replicas)
            return (replicas, made)
        }
        let (with, reallocations) = try run(skippingReallocations: false)
        let without = try run(skippingReallocations: true).replicas
        #expect(reallocations > 20)
        for r in with.dropFirst() {
            #expect(r.store.state == with[0].store.state)
        }
        #expect(Set(with[0].store.pins.keys) == Set(without[0].store.pins.keys))
    }

    @Test func nodesWithReallocationsRoundTripAsVersion2() throws {
        var a = replica(1)
        try a.commit([.pin(fixturePin(1)), .pin(fixturePin(2))])
        let made = try a.commit([.reallocate(Self.moved(1, to: [10])), .unpin(cid(2))])
        let node = try DeltaNode(decoding: made[0])
        #expect(node.reallocations.count == 1)
        #expect(node.reallocations[0].pin == Self.moved(1, to: [10]))
        #expect(node.removes.map(\.key) == [cid(2)])
        #expect(try DagCBOR(decoding: made[0]).encoded() == made[0])
        guard case .map(let fields) = try DagCBOR(decoding: made[0]) else { Issue.record("not a map"); return }
        #expect(fields["v"] == .int(2))
        #expect(try DeltaNode(decoding: try a.commit([.pin(fixturePin(3))])[0]).reallocations.isEmpty)
    }

    @Test func malformedReallocationsAreRefused() throws {
        var a = replica(1)
        let base = try a.commit([.pin(fixturePin(1))])
        let made = try a.commit([.reallocate(Self.moved(1, to: [10]))])
        guard case .map(var fields) = try DagCBOR(decoding: made[0]) else { Issue.record("not a map"); return }
        fields["s"] = nil
        let key = DagCBOR.bytes(cid(1).bytes)
        let id = DagCBOR.bytes(DeltaNode.cid(of: base[0]).bytes)
        let value = try DagCBOR(decoding: PinCodec.encode(Self.moved(1, to: [10])))
        func node(_ change: (inout [String: DagCBOR]) -> Void) -> [UInt8] {
            var f = fields
            change(&f)
            var n = try! DeltaNode(decoding: made[0])
            let signed = DagCBOR.map(f).encoded()
            // Sign the changed map so only the change is wrong.
            n.signature = a.key.signature(for: DeltaNode.signingPrefix + signed)
            f["s"] = .bytes(n.signature)
            return DagCBOR.map(f).encoded()
        }
        #expect(try DeltaNode(decoding: node { _ in }).hasValidSignature)
        let bad: [(String, [UInt8])] = [
            ("version 1 with re-allocations", node { $0["v"] = .int(1) }),
            ("empty list", node { $0["u"] = .list([]) }),
            ("no ids", node { $0["u"] = .list([.list([key, .list([]), value])]) }),
            ("two items", node { $0["u"] = .list([.list([key, .list([id])])]) }),
            ("key twice", node { $0["u"] = .list([.list([key, .list([id]), value]), .list([key, .list([id]), value])]) }),
            ("id not a CID", node { $0["u"] = .list([.list([key, .list([.bytes([1, 2])]), value])]) }),
            ("also removed", node { $0["r"] = .list([.list([key, .list([id])])]) }),
            ("over the id limit", node { $0["u"] = .list([.list([key, .list(Array(repeating: id, count: DeltaNode.maxIDs + 1)), value])]) }),
            ("version 2 without", node { $0["u"] = nil }),
        ]
        for (what, b) in bad { #expect(throws: PinsetError.self, "\(what)") { try DeltaNode(decoding: b) } }
        // At the limit.
        let full = node { $0["u"] = .list([.list([key, .list(Array(repeating: id, count: DeltaNode.maxIDs)), value])]) }
        #expect(try DeltaNode(decoding: full).reallocations[0].targets.count == DeltaNode.maxIDs)
        for n in 0..<made[0].count { #expect(throws: PinsetError.self) { try DeltaNode(decoding: Array(made[0].prefix(n))) } }
    }

    @Test func aReallocationNeverReplacesAWaitingPinOrUnpin() throws {
        var batcher = WriteBatcher()
        try batcher.add(.unpin(cid(1)), now: 0)
        try batcher.add(.reallocate(Self.moved(1, to: [10])), now: 0)
        try batcher.add(.reallocate(Self.moved(2, to: [10])), now: 0)
        try batcher.add(.pin(fixturePin(2)), now: 0)
        try batcher.add(.reallocate(Self.moved(3, to: [10])), now: 0)
        try batcher.add(.reallocate(Self.moved(3, to: [11])), now: 0)
        #expect(batcher.take(now: 0, force: true) == [.unpin(cid(1)), .pin(fixturePin(2)), .reallocate(Self.moved(3, to: [11]))])
    }

    @Test func snapshotChunksCarryTheReallocationMark() throws {
        var a = replica(1)
        try a.commit([.pin(fixturePin(1)), .pin(fixturePin(2))])
        try a.commit([.reallocate(Self.moved(1, to: [10]))])
        let elements = [cid(1), cid(2)].sorted().map { ($0, a.store.elements(of: $0)[0]) }
        let chunk = SnapshotChunk.encode(elements)
        let back = try SnapshotChunk.decode(chunk)
        #expect(back.map(\.element) == elements.map(\.1))
        #expect(back.contains { $0.element.overlay != nil })
        #expect(try DagCBOR(decoding: chunk).encoded() == chunk)
        // A mark at or below its element's priority cannot be (the re-allocation saw the element).
        var low = elements
        let i = low.firstIndex { $0.0 == cid(1) }!
        let priority = low[i].1.priority
        low[i].1.overlay?.priority = priority
        #expect(throws: PinsetError.self) { try SnapshotChunk.decode(SnapshotChunk.encode(low)) }
    }

    @Test func theStoredMarkRoundTripsAndADamagedOneIsReported() throws {
        let o = PinElement.Overlay(id: cid(7), priority: 0x0102_0304_0506_0708)
        #expect(try PinElement.Overlay(packed: o.packed) == o)
        #expect(throws: PinsetError.self) { try PinElement.Overlay(packed: Array(o.packed.prefix(8))) }
        #expect(throws: PinsetError.self) { try PinElement.Overlay(packed: Array(o.packed.prefix(12))) }
    }
}
