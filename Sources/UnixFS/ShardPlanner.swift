public import Multiformats

/// The cutting rule of a sharded add (`Specs/sharding.md`): leaves (link-free blocks) go into
/// shards of at most `shardSize` bytes and ``ShardPlanner/maxLeaves`` leaves, in the order the
/// importer emits them; internal nodes are only listed. Pure: the caller moves the blocks.
public struct ShardPlanner: Sendable {
    public static let defaultShardSize: UInt64 = 104_857_600
    public static let minShardSize: UInt64 = 262_144
    public static let maxShardSize: UInt64 = 1 << 40
    /// Leaves per shard at most (a shard node stays under 400 KB).
    public static let maxLeaves = 8192
    /// A cluster DAG node's size limit.
    public static let maxClusterDAGBytes = 1 << 20

    public let shardSize: UInt64

    /// Where one block goes.
    public enum Placement: Equatable, Sendable {
        /// Into the open shard, number `index`; `opened` when this leaf opened it (allocate it).
        case leaf(index: Int, opened: Bool)
        /// Already in the open shard: nothing to do.
        case repeated
        /// An internal node (listed in the cluster DAG; sent with the open shard).
        case internalNode
    }

    /// A closed shard.
    public struct Shard: Equatable, Sendable {
        public let index: Int
        public let block: Block
        public let leaves: Int
        public let bytes: UInt64
    }

    private var open: [CID] = []
    private var openSet: Set<CID> = []
    private var openBytes: UInt64 = 0
    /// The closed shards, without their nodes' bytes (memory: about 60 bytes a shard).
    public private(set) var closed: [ClusterDAGNode.ShardEntry] = []
    public private(set) var internalNodes: [CID] = []

    public init(shardSize: UInt64 = ShardPlanner.defaultShardSize) throws(UnixFSError) {
        guard (Self.minShardSize...Self.maxShardSize).contains(shardSize) else {
            throw UnixFSError(.invalidValue, "shard size \(shardSize) is out of range: use \(Self.minShardSize) to \(Self.maxShardSize) bytes")
        }
        self.shardSize = shardSize
    }

    /// Whether a block has no links: raw, or dag-pb without a Links field (a canonical dag-pb
    /// node with links starts with field 2's tag, 0x12). Other codecs are refused.
    public static func isLeaf(_ block: Block) throws(UnixFSError) -> Bool {
        switch block.cid.codec {
        case .raw: return true
        case .dagPB: return block.bytes.first != 0x12
        default: throw UnixFSError(.unsupported, "a sharded add takes UnixFS (raw and dag-pb blocks), not \(block.cid.codec) blocks")
        }
    }

    /// Places one block; a leaf that does not fit closes the open shard first (returned).
    public mutating func place(_ block: Block) throws(UnixFSError) -> (Placement, closed: Shard?) {
        guard try Self.isLeaf(block) else {
            internalNodes.append(block.cid)
            return (.internalNode, nil)
        }
        if openSet.contains(block.cid) { return (.repeated, nil) }
        let size = UInt64(block.bytes.count)
        var done: Shard?
        if !open.isEmpty && (openBytes + size > shardSize || open.count >= Self.maxLeaves) {
            done = closeShard()
        }
        let opened = open.isEmpty
        open.append(block.cid)
        openSet.insert(block.cid)
        openBytes += size
        return (.leaf(index: closed.count, opened: opened), done)
    }

    /// Closes the open shard, if any (after the last block).
    public mutating func finish() -> Shard? { open.isEmpty ? nil : closeShard() }

    private mutating func closeShard() -> Shard {
        let node = ShardNode(index: closed.count, leaves: open, bytes: openBytes)
        let shard = Shard(index: closed.count, block: node.block(), leaves: open.count, bytes: openBytes)
        closed.append(.init(cid: shard.block.cid, bytes: shard.bytes, leaves: shard.leaves))
        open.removeAll(keepingCapacity: true)
        openSet.removeAll(keepingCapacity: true)
        openBytes = 0
        return shard
    }

    /// The cluster DAG node once every shard is closed.
    public func clusterDAG(root: CID) throws(UnixFSError) -> ClusterDAGNode {
        let node = ClusterDAGNode(root: root, shards: closed, internalNodes: internalNodes)
        let size = node.encoded().count
        guard size <= Self.maxClusterDAGBytes else {
            throw UnixFSError(
                .tooLarge,
                "the cluster DAG node would take \(size) bytes (\(closed.count) shards, \(internalNodes.count) internal nodes), over \(Self.maxClusterDAGBytes): raise the shard size or the chunk size")
        }
        return node
    }
}

/// A shard: `{"blocks": [links], "bytes": n, "index": i, "v": 1}` in dag-cbor.
public struct ShardNode: Equatable, Sendable {
    public let index: Int
    public let leaves: [CID]
    public let bytes: UInt64

    public init(index: Int, leaves: [CID], bytes: UInt64) {
        self.index = index
        self.leaves = leaves
        self.bytes = bytes
    }

    public var cbor: DagCBOR {
        .map(["blocks": .list(leaves.map { .link($0) }), "bytes": .int(Int64(bytes)), "index": .int(Int64(index)), "v": .int(1)])
    }

    public func block() -> Block { Block.dagCBOR(cbor) }

    public init(decoding bytes: [UInt8]) throws(UnixFSError) {
        let v = try DagCBOR(decoding: bytes)
        guard case .map(let m) = v, m.count == 4, m["v"] == .int(1), case .list(let links)? = m["blocks"],
            case .int(let n)? = m["bytes"], n >= 0, case .int(let i)? = m["index"], i >= 0
        else { throw UnixFSError(.wrongType, "not a PinMesh shard node (v 1 with blocks, bytes and index)") }
        var leaves: [CID] = []
        for l in links {
            guard case .link(let c) = l else { throw UnixFSError(.wrongType, "shard node: a blocks entry is not a link") }
            leaves.append(c)
        }
        self.init(index: Int(i), leaves: leaves, bytes: UInt64(n))
    }
}

/// The cluster DAG: `{"internal": [links], "root": link, "shards": [{"blocks", "bytes", "cid"}], "v": 1}`.
public struct ClusterDAGNode: Equatable, Sendable {
    public struct ShardEntry: Equatable, Sendable {
        public let cid: CID
        public let bytes: UInt64
        public let leaves: Int
        public init(cid: CID, bytes: UInt64, leaves: Int) {
            self.cid = cid
            self.bytes = bytes
            self.leaves = leaves
        }
    }

    public let root: CID
    public let shards: [ShardEntry]
    public let internalNodes: [CID]

    public init(root: CID, shards: [ShardEntry], internalNodes: [CID]) {
        self.root = root
        self.shards = shards
        self.internalNodes = internalNodes
    }

    public var cbor: DagCBOR {
        .map([
            "internal": .list(internalNodes.map { .link($0) }), "root": .link(root),
            "shards": .list(shards.map { .map(["blocks": .int(Int64($0.leaves)), "bytes": .int(Int64($0.bytes)), "cid": .link($0.cid)]) }),
            "v": .int(1),
        ])
    }

    public func encoded() -> [UInt8] { cbor.encoded() }
    public func block() -> Block { Block.dagCBOR(cbor) }

    public init(decoding bytes: [UInt8]) throws(UnixFSError) {
        guard bytes.count <= ShardPlanner.maxClusterDAGBytes else {
            throw UnixFSError(.tooLarge, "cluster DAG node of \(bytes.count) bytes exceeds \(ShardPlanner.maxClusterDAGBytes)")
        }
        let v = try DagCBOR(decoding: bytes)
        guard case .map(let m) = v, m.count == 4, m["v"] == .int(1), case .link(let root)? = m["root"],
            case .list(let internalList)? = m["internal"], case .list(let shards)? = m["shards"]
        else { throw UnixFSError(.wrongType, "not a PinMesh cluster DAG node (v 1 with internal, root and shards)") }
        var nodes: [CID] = []
        for l in internalList {
            guard case .link(let c) = l else { throw UnixFSError(.wrongType, "cluster DAG node: an internal entry is not a link") }
            nodes.append(c)
        }
        var entries: [ShardEntry] = []
        for s in shards {
            guard case .map(let e) = s, e.count == 3, case .link(let c)? = e["cid"], case .int(let b)? = e["bytes"], b >= 0,
                case .int(let n)? = e["blocks"], n >= 0
            else { throw UnixFSError(.wrongType, "cluster DAG node: a shards entry is not {blocks, bytes, cid}") }
            entries.append(ShardEntry(cid: c, bytes: UInt64(b), leaves: Int(n)))
        }
        self.init(root: root, shards: entries, internalNodes: nodes)
    }
}

extension Block {
    /// A dag-cbor block (CIDv1, sha2-256) of `value`.
    public static func dagCBOR(_ value: DagCBOR) -> Block {
        let bytes = value.encoded()
        return Block(cid: .v1(codec: .dagCBOR, .sha256(bytes)), bytes: bytes)
    }
}
