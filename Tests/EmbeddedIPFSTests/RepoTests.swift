import Datastore
import EmbeddedIPFS
import Foundation
import Multiformats
import Testing
import UnixFS

/// A file DAG of three levels: 400 leaves of 1 KiB under 3 internal nodes under the root
/// (maxLinks 174).
func sampleDAG(seed: UInt8 = 1, leaves: Int = 400) throws -> (root: CID, blocks: [Block]) {
    var data = [UInt8](repeating: 0, count: leaves * 1024)
    for i in data.indices { data[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i / 1024) }
    // Every leaf starts with the seed and its index, so no two leaves of any two DAGs match.
    for k in 0..<leaves {
        data[k * 1024] = seed
        data[k * 1024 + 1] = UInt8(k & 0xff)
        data[k * 1024 + 2] = UInt8(k >> 8)
    }
    let (root, blocks) = try FileImporter.importBytes(
        data, settings: ImportSettings(cidVersion: .v1, chunker: .size(1024)), keepBlocks: true)
    return (root.cid, blocks)
}

@Suite struct RepoTests {
    static func repo(_ dir: TempDir, storageMax: UInt64? = nil) throws -> IPFSRepo {
        try IPFSRepo.initialize(at: dir.path)
        return try IPFSRepo(root: dir.path, storageMax: storageMax)
    }

    @Test func secondProcessCannotOpenTheSameRepository() throws {
        let dir = TempDir()
        let r = try Self.repo(dir)
        #expect(throws: (any Error).self) { _ = try IPFSRepo(root: dir.path) }
        _ = r
    }

    @Test func recursivePinKeepsTheWholeDAGThroughGC() async throws {
        let dir = TempDir()
        let repo = try Self.repo(dir)
        let dag = try sampleDAG()
        for b in dag.blocks { try repo.put(b) }
        let other = try sampleDAG(seed: 2, leaves: 3)
        for b in other.blocks { try repo.put(b) }
        try await repo.pin([dag.root], mode: .recursive(maxDepth: nil))
        // Blocks this old are fair game for GC (GC spares blocks written in its last second).
        try backdate(repo)
        var removed: [CID] = []
        let summary = try await repo.collectGarbage(removed: { removed.append($0) })
        #expect(summary.blocks == other.blocks.count)
        #expect(Set(removed.map(\.multihash)) == Set(other.blocks.map(\.cid.multihash)))
        for b in dag.blocks { #expect(try repo.block(b.cid) == b.bytes) }
        #expect(try Exporter(blocks: repo).cat(dag.root).count == 400 * 1024)
    }

    @Test func depthLimitedPinKeepsOnlyItsLevels() async throws {
        let dir = TempDir()
        let repo = try Self.repo(dir)
        let dag = try sampleDAG()
        for b in dag.blocks { try repo.put(b) }
        try await repo.pin([dag.root], mode: .recursive(maxDepth: 1))
        try backdate(repo)
        _ = try await repo.collectGarbage(removed: { _ in })
        let rootLinks = try PBNode(decoding: try repo.block(dag.root)).links.map(\.hash)
        #expect(rootLinks.count == 3)
        for l in rootLinks { #expect(repo.blocks.has(l)) }
        #expect(repo.stat().numObjects == 4)  // the root and its three children; no leaf
        #expect(try repo.pinState(rootLinks[0]) == .indirect(through: dag.root))
    }

    /// A block a depth-limited pin reaches at its limit, and a recursive pin reaches too:
    /// GC keeps everything below it, whichever pin it marks first (GC walks pins in CID order;
    /// the smallest and the largest child give both orders).
    @Test func deeperPinBelowAShallowOneKeepsItsDAG() async throws {
        var orders = Set<Bool>()
        for seed in UInt8(1)...3 {
            for pick in [0, 1] {
                let dir = TempDir()
                let repo = try Self.repo(dir)
                let dag = try sampleDAG(seed: seed)
                for b in dag.blocks { try repo.put(b) }
                let children = try PBNode(decoding: try repo.block(dag.root)).links.map(\.hash)
                let child = pick == 0 ? children.min()! : children.max()!
                orders.insert(dag.root < child)
                try await repo.pin([dag.root], mode: .recursive(maxDepth: 1))
                try await repo.pin([child], mode: .recursive(maxDepth: nil))
                try backdate(repo)
                _ = try await repo.collectGarbage(removed: { _ in })
                for leaf in try PBNode(decoding: try repo.block(child)).links.map(\.hash) {
                    #expect(repo.blocks.has(leaf), "seed \(seed): a leaf under the recursive pin was collected")
                }
            }
        }
        #expect(orders.count == 2, "the DAGs should give both orders of the two pins")
    }

    @Test func directPinKeepsTheBlockAlone() async throws {
        let dir = TempDir()
        let repo = try Self.repo(dir)
        let dag = try sampleDAG(leaves: 2)
        for b in dag.blocks { try repo.put(b) }
        try await repo.pin([dag.root], mode: .direct)
        try backdate(repo)
        _ = try await repo.collectGarbage(removed: { _ in })
        #expect(repo.stat().numObjects == 1)
    }

    @Test func pinWaitsForMissingBlocksThenCompletes() async throws {
        let dir = TempDir()
        let repo = try Self.repo(dir)
        let dag = try sampleDAG(leaves: 200)
        // The root only: the pin must wait for the rest.
        try repo.put(dag.blocks.last!)
        #expect(dag.blocks.last!.cid == dag.root)
        let counter = ProgressBox()
        let pin = Task { try await repo.pin([dag.root], mode: .recursive(maxDepth: nil), progress: { counter.set($0) }) }
        #expect(await eventually { counter.value >= 1 })
        #expect(try repo.pins.get(dag.root) == nil)
        for b in dag.blocks.dropLast() { try repo.put(b) }
        try await pin.value
        #expect(try repo.pins.get(dag.root)?.mode == .recursive(maxDepth: nil))
        #expect(counter.value == dag.blocks.count)
    }

    @Test func cancelledPinLeavesNoPin() async throws {
        let dir = TempDir()
        let repo = try Self.repo(dir)
        let dag = try sampleDAG(leaves: 10)
        try repo.put(dag.blocks.last!)
        let pin = Task { try await repo.pin([dag.root], mode: .recursive(maxDepth: nil)) }
        pin.cancel()
        await #expect(throws: CancellationError.self) { try await pin.value }
        #expect(try repo.pins.get(dag.root) == nil)
    }

    @Test func offlinePinFailsAtOnceOnAMissingBlock() async throws {
        let dir = TempDir()
        let repo = try Self.repo(dir)
        let dag = try sampleDAG(leaves: 10)
        try repo.put(dag.blocks.last!)
        await #expect(throws: RepoError.self) { try await repo.pin([dag.root], mode: .recursive(maxDepth: nil), offline: true) }
    }

    struct MapFetcher: BlockFetcher {
        let blocks: [CID: [UInt8]]
        func fetch(_ cid: CID) async throws -> [UInt8]? { blocks[cid] }
    }

    @Test func fetcherSuppliesMissingBlocks() async throws {
        let dir = TempDir()
        let repo = try Self.repo(dir)
        let dag = try sampleDAG(leaves: 50)
        repo.setFetcher(MapFetcher(blocks: Dictionary(uniqueKeysWithValues: dag.blocks.map { ($0.cid, $0.bytes) })))
        try await repo.pin([dag.root], mode: .recursive(maxDepth: nil))
        #expect(repo.stat().numObjects == dag.blocks.count)
    }

    /// A fetcher whose holders are away until `back` is set (a restarted peer).
    final class AwayFetcher: BlockFetcher, @unchecked Sendable {
        let blocks: [CID: [UInt8]]
        let lock = NSLock()
        var back = false
        var asked = 0
        init(blocks: [CID: [UInt8]]) { self.blocks = blocks }
        func fetch(_ cid: CID) async throws -> [UInt8]? {
            lock.withLock {
                asked += 1
                return back ? blocks[cid] : nil
            }
        }
    }

    /// A pin whose blocks nobody had asks again when told a peer (re)connected, instead of
    /// waiting for a block that nobody will send.
    @Test func aWaitingPinAsksAgainWhenPeersReconnect() async throws {
        let dir = TempDir()
        let repo = try Self.repo(dir)
        let dag = try sampleDAG(leaves: 20)
        let fetcher = AwayFetcher(blocks: Dictionary(uniqueKeysWithValues: dag.blocks.map { ($0.cid, $0.bytes) }))
        repo.setFetcher(fetcher)
        let pin = Task { try await repo.pin([dag.root], mode: .recursive(maxDepth: nil)) }
        #expect(await eventually { fetcher.lock.withLock { fetcher.asked } >= 1 })
        #expect(try repo.pins.count() == 0)
        fetcher.lock.withLock { fetcher.back = true }
        repo.retryFetches()
        try await pin.value
        #expect(repo.stat().numObjects == dag.blocks.count)
    }

    @Test func gcSparesBlocksOfInFlightOperations() async throws {
        let dir = TempDir()
        let repo = try Self.repo(dir)
        let dag = try sampleDAG(leaves: 5)
        let op = repo.beginOperation()
        for b in dag.blocks { try op.put(b) }
        try backdate(repo)
        let first = try await repo.collectGarbage(removed: { _ in })
        #expect(first.blocks == 0)
        op.end()
        let second = try await repo.collectGarbage(removed: { _ in })
        #expect(second.blocks == dag.blocks.count)
    }

    @Test func pinUpdateMovesThePin() async throws {
        let dir = TempDir()
        let repo = try Self.repo(dir)
        let a = try sampleDAG(seed: 1, leaves: 3)
        let b = try sampleDAG(seed: 2, leaves: 3)
        for x in a.blocks + b.blocks { try repo.put(x) }
        try await repo.pin([a.root], mode: .recursive(maxDepth: nil), name: "v1")
        try await repo.updatePin(from: a.root, to: b.root, unpin: true)
        #expect(try repo.pins.get(a.root) == nil)
        #expect(try repo.pins.get(b.root)?.name == "v1")
    }
}

/// Makes every stored block look a minute old, so a GC run may sweep it.
func backdate(_ repo: IPFSRepo) throws {
    let old = Date().addingTimeInterval(-60)
    for s in repo.blocks.shards() {
        for (mh, _) in repo.blocks.blocks(inShard: s) {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: repo.blocks.path(mh))
        }
    }
}

final class ProgressBox: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    var value: Int { lock.withLock { n } }
    func set(_ v: Int) { lock.withLock { n = v } }
}
