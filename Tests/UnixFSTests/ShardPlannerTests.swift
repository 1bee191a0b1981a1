import ClusterTestKit
import Foundation
import Multiformats
import Testing
import UnixFS

/// The cutting rule and the shard and cluster DAG node formats of `Specs/sharding.md`, against
/// `Specs/vectors/sharding.json` (an independent Python encoder), at every limit, and their
/// decoders on malformed input.
@Suite struct ShardPlannerTests {
    struct File: Decodable { let cases: [Case] }
    struct Case: Decodable {
        struct Spec: Decodable { let kind: String; let size: Int; let fill: UInt8 }
        struct ShardV: Decodable { let cid: String; let leaves: Int; let bytes: UInt64; let hex: String? }
        struct DAG: Decodable { let cid: String; let hex: String }
        let shard_size: UInt64
        let blocks: [Spec]
        let block_cids: [String]
        let shards: [ShardV]
        let `internal`: [String]
        let root: String
        let cluster_dag: DAG
    }

    static func raw(_ bytes: [UInt8]) -> Block { Block(cid: .v1(codec: .raw, .sha256(bytes)), bytes: bytes) }
    static func pb(_ bytes: [UInt8]) -> Block { Block(cid: .v1(codec: .dagPB, .sha256(bytes)), bytes: bytes) }

    /// The vector's blocks, built as the generator builds them.
    static func blocks(_ c: Case) -> [Block] {
        var out: [Block] = []
        for s in c.blocks {
            switch s.kind {
            case "raw": out.append(raw([UInt8](repeating: s.fill, count: s.size)))
            case "pbleaf": out.append(pb([0x0A, UInt8(s.size)] + [UInt8](repeating: s.fill, count: s.size)))
            default:
                let prev = out.last!.cid.bytes
                let link = [0x0A, UInt8(prev.count)] + prev
                out.append(pb([0x12, UInt8(link.count)] + link))
            }
        }
        return out
    }

    @Test func vectors() throws {
        for c in try ClusterTestKit.Vectors.json("sharding.json", as: File.self).cases {
            let blocks = Self.blocks(c)
            #expect(blocks.map(\.cid.description) == c.block_cids)
            var planner = try ShardPlanner(shardSize: c.shard_size)
            var closed: [ShardPlanner.Shard] = []
            for b in blocks {
                let (_, done) = try planner.place(b)
                if let done { closed.append(done) }
            }
            if let last = planner.finish() { closed.append(last) }
            #expect(closed.map(\.block.cid.description) == c.shards.map(\.cid))
            #expect(closed.map(\.leaves) == c.shards.map(\.leaves) && closed.map(\.bytes) == c.shards.map(\.bytes))
            for (s, v) in zip(closed, c.shards) {
                if let hex = v.hex { #expect(s.block.bytes == Hex.bytes(hex)) }
                let node = try ShardNode(decoding: s.block.bytes)
                #expect(node.index == s.index && node.leaves.count == s.leaves && node.bytes == s.bytes)
            }
            #expect(planner.internalNodes.map(\.description) == c.`internal`)
            let dag = try planner.clusterDAG(root: try CID(c.root))
            #expect(dag.block().cid.description == c.cluster_dag.cid && dag.encoded() == Hex.bytes(c.cluster_dag.hex))
            #expect(try ClusterDAGNode(decoding: Hex.bytes(c.cluster_dag.hex)) == dag)
        }
    }

    @Test func placementsAtTheLimits() throws {
        var p = try ShardPlanner(shardSize: ShardPlanner.minShardSize)
        let half = Int(ShardPlanner.minShardSize / 2)
        // Exactly full fits; one byte more closes the shard first.
        #expect(try p.place(Self.raw([UInt8](repeating: 1, count: half))).0 == .leaf(index: 0, opened: true))
        #expect(try p.place(Self.raw([UInt8](repeating: 2, count: half))).0 == .leaf(index: 0, opened: false))
        let (placed, closed) = try p.place(Self.raw([3]))
        #expect(placed == .leaf(index: 1, opened: true) && closed?.bytes == ShardPlanner.minShardSize && closed?.leaves == 2)
        // A repeat inside the open shard is skipped; internal nodes are listed, not placed.
        #expect(try p.place(Self.raw([3])).0 == .repeated)
        #expect(try p.place(Self.pb([0x12, 0x00])).0 == .internalNode)
        #expect(try p.place(Self.pb([])).0 == .leaf(index: 1, opened: false))  // an empty dag-pb node has no links

        // At most maxLeaves leaves per shard.
        var q = try ShardPlanner(shardSize: ShardPlanner.maxShardSize)
        var shards: [ShardPlanner.Shard] = []
        for i in 0...ShardPlanner.maxLeaves {
            let (_, done) = try q.place(Self.raw(withUnsafeBytes(of: UInt32(i).littleEndian, Array.init)))
            if let done { shards.append(done) }
        }
        #expect(shards.count == 1 && shards[0].leaves == ShardPlanner.maxLeaves)
        #expect(try ShardNode(decoding: shards[0].block.bytes).leaves.count == ShardPlanner.maxLeaves)
        #expect(shards[0].block.bytes.count < 400_000)
    }

    @Test func sizesAndCodecsOutOfRangeAreRefused() throws {
        #expect(throws: UnixFSError.self) { _ = try ShardPlanner(shardSize: ShardPlanner.minShardSize - 1) }
        #expect(throws: UnixFSError.self) { _ = try ShardPlanner(shardSize: ShardPlanner.maxShardSize + 1) }
        _ = try ShardPlanner(shardSize: ShardPlanner.maxShardSize)
        var p = try ShardPlanner()
        let cbor = Block.dagCBOR(.map(["a": .int(1)]))
        #expect(throws: UnixFSError.self) { _ = try p.place(cbor) }
    }

    @Test func clusterDAGNodesOverTheLimitAreRefused() throws {
        var p = try ShardPlanner()
        let fill = Self.raw([1])
        _ = try p.place(fill)
        // Internal nodes are 41 bytes each in the node: 26,000 of them pass 1 MiB.
        for i in 0..<26_000 { _ = try p.place(Self.pb([0x12] + withUnsafeBytes(of: UInt32(i).littleEndian, Array.init))) }
        _ = p.finish()
        #expect { _ = try p.clusterDAG(root: fill.cid) } throws: { ($0 as? UnixFSError)?.message.contains("raise the shard size") == true }
    }

    @Test func malformedNodesAreRefused() throws {
        let good = ClusterDAGNode(root: Self.raw([1]).cid, shards: [.init(cid: Self.raw([2]).cid, bytes: 1, leaves: 1)], internalNodes: [])
        #expect(try ClusterDAGNode(decoding: good.encoded()) == good)
        let link = DagCBOR.link(Self.raw([1]).cid)
        let bad: [DagCBOR] = [
            .list([]),
            .map(["internal": .list([]), "root": link, "shards": .list([]), "v": .int(2)]),
            .map(["internal": .list([]), "root": .int(1), "shards": .list([]), "v": .int(1)]),
            .map(["internal": .list([.int(1)]), "root": link, "shards": .list([]), "v": .int(1)]),
            .map(["internal": .list([]), "root": link, "shards": .list([.map(["cid": link, "bytes": .int(1)])]), "v": .int(1)]),
            .map(["internal": .list([]), "root": link, "shards": .list([.map(["cid": link, "bytes": .int(-1), "blocks": .int(1)])]), "v": .int(1)]),
            .map(["internal": .list([]), "root": link, "shards": .list([]), "v": .int(1), "extra": .null]),
            .map(["root": link, "shards": .list([]), "v": .int(1)]),
        ]
        for b in bad { #expect(throws: UnixFSError.self, "\(b)") { _ = try ClusterDAGNode(decoding: b.encoded()) } }
        #expect(throws: UnixFSError.self) { _ = try ClusterDAGNode(decoding: [UInt8](repeating: 0, count: ShardPlanner.maxClusterDAGBytes + 1)) }
        #expect(throws: UnixFSError.self) { _ = try ClusterDAGNode(decoding: Array(good.encoded().dropLast())) }
        let badShards: [DagCBOR] = [
            .map(["blocks": .list([.int(1)]), "bytes": .int(1), "index": .int(0), "v": .int(1)]),
            .map(["blocks": .list([link]), "bytes": .int(1), "index": .int(-1), "v": .int(1)]),
            .map(["blocks": .list([link]), "bytes": .int(1), "v": .int(1)]),
        ]
        for b in badShards { #expect(throws: UnixFSError.self, "\(b)") { _ = try ShardNode(decoding: b.encoded()) } }
        // Every truncation of a good shard node is refused.
        let shard = ShardNode(index: 3, leaves: [Self.raw([9]).cid], bytes: 1).block().bytes
        for n in 0..<shard.count { #expect(throws: UnixFSError.self) { _ = try ShardNode(decoding: Array(shard.prefix(n))) } }
    }
}
