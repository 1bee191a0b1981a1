import ClusterModel
import ClusterTestKit
import Datastore
import Foundation
import Multiformats
import Pinset
import Sodium
import Testing

/// A database in a fresh temporary directory, removed at deinit.
final class TempDatabase {
    let dir: URL
    var db: PinsetDatabase

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinset-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        db = try PinsetDatabase(path: dir.appendingPathComponent("pinset.sqlite").path)
    }

    func reopen() throws {
        try db.close()
        db = try PinsetDatabase(path: dir.appendingPathComponent("pinset.sqlite").path)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    func apply(_ rules: PinsetInstance, _ nodes: [[UInt8]]) throws {
        try db.write { store in for n in nodes { _ = try rules.apply(n, to: &store) } }
    }

    func pins() throws -> [CID: Pin] {
        var out: [CID: Pin] = [:]
        try db.forEachPin(batch: 7) { out[$0.cid] = $0 }
        return out
    }
}

@Suite struct PinsetDatabaseTests {
    /// A stored row that does not decode (what a PinMesh that did not check limits could write)
    /// is skipped and counted by every listing; pages still hold `limit` pins until the end.
    @Test func anUndecodableRowIsSkippedNotFatal() throws {
        let t = try TempDatabase()
        let good = (1...20).map { fixturePin($0) }
        var poisoned = fixturePin(21)
        poisoned.options.name = String(repeating: "n", count: PinCodec.maxStringBytes + 976)
        try t.db.write { store in
            for (i, p) in (good + [poisoned]).enumerated() {
                try store.setElements([PinElement(id: CID.v1(codec: .dagCBOR, cid(100 + i).multihash), priority: 1, pin: p)], of: p.cid)
            }
        }
        #expect(try t.pins().count == 20)
        var paged: [CID] = []
        var after: CID?
        while true {
            let page = try t.db.pins(after: after, limit: 3)
            paged += page.map(\.cid)
            guard page.count == 3 else { break }
            after = page.last?.cid
        }
        #expect(Set(paged) == Set(good.map(\.cid)) && paged.count == 20)
        let skipped = t.db.undecodableRows
        #expect(skipped.count >= 2 && skipped.lastKey == poisoned.cid)
        #expect(skipped.lastError?.contains("over 1024 bytes") == true)
    }

    /// The SQLite store gives exactly the memory store's state for the same nodes.
    @Test func matchesTheMemoryStore() throws {
        var rng = SplitMix64(seed: 5)
        var a = replica(1), b = replica(2)
        var nodes: [[UInt8]] = []
        for step in 0..<200 {
            let k = Int(rng.next() % 40)
            let roll = rng.next() % 10
            let op: PinsetOperation =
                roll < 3
                ? .unpin(cid(k))
                : roll < 5
                    ? .reallocate(PinsetFixtures.pin(k, name: "s\(step % 5)", allocations: [PinsetFixtures.peer(step % 7)]))
                    : .pin(fixturePin(k, name: "s\(step % 5)"))
            if rng.chance(0.5) { nodes += try a.commit([op]) } else { nodes += try b.commit([op]) }
            if rng.chance(0.2) {
                nodes += try b.missing(for: a.store.heads()).filter { try a.receive([$0]) == 1 }
                try b.receive(try a.missing(for: b.store.heads()))
            }
        }
        try a.receive(try b.missing(for: a.store.heads()))
        var memory = replica(3)
        try memory.receive(nodes)
        #expect(memory.store.pins == a.store.pins)

        let t = try TempDatabase()
        try t.apply(memory.rules, nodes)
        #expect(try t.pins() == memory.store.pins)
        #expect(try t.db.read { try $0.heads() } == memory.store.heads())
        for k in 0..<40 {
            #expect(try t.db.read { try $0.elements(of: cid(k)) } == memory.store.elements(of: cid(k)))
        }
        // The indexes agree with the state.
        let pins = memory.store.pins
        for p in 0..<7 {
            let peer = PinsetFixtures.peer(p)
            #expect(try t.db.keys(allocatedTo: peer) == pins.values.filter { $0.allocations.contains(peer) }.map(\.cid).sorted())
        }
        #expect(try t.db.keys(named: "s1") == pins.values.filter { $0.name == "s1" }.map(\.cid).sorted())
        let info = try t.db.info()
        #expect(info.pins == pins.count)
        #expect(info.nodes == memory.store.nodes.count)
        // Re-allocated elements keep their mark through a reopen and into a snapshot.
        #expect((0..<40).contains { memory.store.elements(of: cid($0)).contains { $0.overlay != nil } })
        try t.reopen()
        for k in 0..<40 { #expect(try t.db.read { try $0.elements(of: cid(k)) } == memory.store.elements(of: cid(k))) }
        let snapshot = try #require(try t.db.makeSnapshot(author: a.id, key: a.key, created: Timestamp(unixMillis: 1)))
        var fromSnapshot: [CID: [PinElement]] = [:]
        for i in snapshot.root.indexes {
            for c in try SnapshotIndex.decode(try t.db.snapshotBlocks([i], budget: DeltaNode.maxBytes)[0]) {
                for (key, e) in try SnapshotChunk.decode(try t.db.snapshotBlocks([c], budget: DeltaNode.maxBytes)[0]) {
                    fromSnapshot[key, default: []].append(e)
                }
            }
        }
        #expect(fromSnapshot.mapValues { $0.sorted { $0.wins(over: $1) } } == memory.store.state)
    }

    @Test func survivesReopening() throws {
        var a = replica(1)
        let nodes = try a.commit((0..<300).map { .pin(fixturePin($0)) }) + (try a.commit([.unpin(cid(5))]))
        let t = try TempDatabase()
        try t.apply(a.rules, nodes)
        try t.reopen()
        #expect(try t.pins() == a.store.pins)
        #expect(try t.db.info().heads == a.store.heads())
    }

    /// A failure in the middle of applying a batch (a crash mid-apply) leaves the database
    /// exactly as before the batch: no node, head or pin of it is visible.
    @Test func aFailedBatchLeavesNothingBehind() throws {
        var a = replica(1)
        let first = try a.commit([.pin(fixturePin(1))])
        let batch = try a.commit((2..<50).map { .pin(fixturePin($0)) })
        let t = try TempDatabase()
        try t.apply(a.rules, first)
        let before = try t.db.info()
        struct Crash: Error {}
        #expect(throws: Crash.self) {
            try t.db.write { store in
                for n in batch { _ = try a.rules.apply(n, to: &store) }
                throw Crash()
            }
        }
        #expect(try t.db.info() == before)
        #expect(try Array(t.pins().keys) == [cid(1)])
        // And the same batch applies cleanly afterwards.
        try t.apply(a.rules, batch)
        #expect(try t.pins() == a.store.pins)
    }

    @Test func metadataIndexFollowsReplacements() throws {
        var a = replica(1)
        var p = fixturePin(1)
        p.options.metadata = ["team": "red"]
        var nodes = try a.commit([.pin(p)])
        p.options.metadata = ["team": "blue"]
        nodes += try a.commit([.pin(p)])
        let t = try TempDatabase()
        try t.apply(a.rules, nodes)
        #expect(try t.db.keys(metadata: "team", equals: "red").isEmpty)
        #expect(try t.db.keys(metadata: "team", equals: "blue") == [cid(1)])
        try t.apply(a.rules, try a.commit([.unpin(cid(1))]))
        #expect(try t.db.keys(metadata: "team", equals: "blue").isEmpty)
        #expect(try t.db.keys(allocatedTo: PinsetFixtures.peer(1)).isEmpty)
    }

    @Test func aDamagedFileIsReportedAndLeftAlone() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinset-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("pinset.sqlite").path
        let garbage = Data((0..<4096).map { UInt8($0 % 251) })
        try garbage.write(to: URL(fileURLWithPath: path))
        do {
            _ = try PinsetDatabase(path: path)
            Issue.record("opened a damaged file")
        } catch {
            #expect(error.code == .storage)
            #expect(error.message.contains(path))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
    }
}
