public import Multiformats

/// Where DAG walks get blocks from (a blockstore, a CAR, a peer).
public protocol BlockGetter {
    /// The bytes of `cid`; throws `missingBlock` when it is not available.
    func block(_ cid: CID) throws -> [UInt8]
}

/// Blocks in memory, for tests and small imports.
public struct MemoryBlocks: BlockGetter, Sendable {
    public private(set) var blocks: [CID: [UInt8]] = [:]

    public init(_ blocks: [Block] = []) {
        for b in blocks { self.blocks[b.cid] = b.bytes }
    }

    public mutating func put(_ block: Block) { blocks[block.cid] = block.bytes }

    public func block(_ cid: CID) throws -> [UInt8] {
        guard let b = blocks[cid] else { throw UnixFSError(.missingBlock, "block \(cid) is not available") }
        return b
    }
}
