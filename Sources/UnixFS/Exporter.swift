public import Multiformats

/// Reads UnixFS DAGs back: file contents (whole or a range) and directory listings, over any
/// ``BlockGetter``. Every block is verified against its CID.
public struct Exporter<Blocks: BlockGetter> {
    public let blocks: Blocks

    public init(blocks: Blocks) { self.blocks = blocks }

    /// One entry of a directory listing.
    public struct Entry: Hashable, Sendable {
        public let name: String
        public let cid: CID
        /// The link's cumulative size.
        public let size: UInt64?
    }

    /// What a node is.
    public enum Kind: Hashable, Sendable {
        case file(size: UInt64)
        case directory
        case hamtDirectory
        case symlink(target: String)
        case raw(size: UInt64)
    }

    /// The kind of the node at `cid`.
    public func kind(_ cid: CID) throws -> Kind {
        let bytes = try blocks.verifiedBlock(cid)
        if cid.codec == .raw { return .raw(size: UInt64(bytes.count)) }
        guard cid.codec == .dagPB else {
            throw UnixFSError(.wrongType, "\(cid) is \(cid.codec), not a UnixFS (dag-pb or raw) node")
        }
        let node = try PBNode(decoding: bytes)
        let data = try UnixFSData(decoding: node.data ?? [])
        switch data.type {
        case .file, .raw: return .file(size: data.fileSize ?? UInt64(data.data?.count ?? 0))
        case .directory: return .directory
        case .hamtShard: return .hamtDirectory
        case .symlink: return .symlink(target: String(decoding: data.data ?? [], as: UTF8.self))
        case .metadata: throw UnixFSError(.wrongType, "\(cid) is a UnixFS metadata node")
        }
    }

    /// Streams the bytes of the file at `cid` from `offset`, at most `length` bytes, in order.
    public func read(_ cid: CID, offset: UInt64 = 0, length: UInt64? = nil, into sink: ([UInt8]) throws -> Void) throws {
        var remaining = length ?? UInt64.max
        try read(cid, skip: offset, remaining: &remaining, depth: 0, sink: sink)
    }

    /// The whole file at `cid` (or the requested range) in memory.
    public func cat(_ cid: CID, offset: UInt64 = 0, length: UInt64? = nil) throws -> [UInt8] {
        var out: [UInt8] = []
        try read(cid, offset: offset, length: length) { out += $0 }
        return out
    }

    private func read(_ cid: CID, skip: UInt64, remaining: inout UInt64, depth: Int, sink: ([UInt8]) throws -> Void) throws {
        guard remaining > 0 else { return }
        guard depth < 64 else { throw UnixFSError(.tooLarge, "file DAG deeper than 64 levels at \(cid)") }
        let bytes = try blocks.verifiedBlock(cid)
        if cid.codec == .raw {
            try emit(bytes[...], skip: skip, remaining: &remaining, sink: sink)
            return
        }
        guard cid.codec == .dagPB else { throw UnixFSError(.wrongType, "\(cid) is \(cid.codec), not part of a UnixFS file") }
        let node = try PBNode(decoding: bytes)
        let data = try UnixFSData(decoding: node.data ?? [])
        guard data.type == .file || data.type == .raw else {
            throw UnixFSError(.wrongType, "\(cid) is a UnixFS \(data.type), not a file")
        }
        let own = data.data ?? []
        try emit(own[...], skip: skip, remaining: &remaining, sink: sink)
        guard !node.links.isEmpty else { return }
        guard data.blockSizes.count == node.links.count else {
            throw UnixFSError(.invalidValue, "\(cid) has \(node.links.count) links but \(data.blockSizes.count) blocksizes")
        }
        var position = UInt64(own.count)
        for (link, size) in zip(node.links, data.blockSizes) {
            guard remaining > 0 else { return }
            let end = position + size
            if end > skip {
                try read(link.hash, skip: skip > position ? skip - position : 0, remaining: &remaining, depth: depth + 1, sink: sink)
            }
            position = end
        }
    }

    private func emit(_ bytes: ArraySlice<UInt8>, skip: UInt64, remaining: inout UInt64, sink: ([UInt8]) throws -> Void) throws {
        guard skip < UInt64(bytes.count) else { return }
        let start = bytes.startIndex + Int(skip)
        let n = Int(min(UInt64(bytes.endIndex - start), remaining))
        if n > 0 {
            try sink(Array(bytes[start..<start + n]))
            remaining -= UInt64(n)
        }
    }

    /// The entries of the directory at `cid` (basic or HAMT), sorted by name.
    public func list(_ cid: CID) throws -> [Entry] {
        let bytes = try blocks.verifiedBlock(cid)
        guard cid.codec == .dagPB else { throw UnixFSError(.wrongType, "\(cid) is not a directory") }
        let node = try PBNode(decoding: bytes)
        let data = try UnixFSData(decoding: node.data ?? [])
        var out: [Entry] = []
        switch data.type {
        case .directory:
            out = node.links.map { Entry(name: $0.name ?? "", cid: $0.hash, size: $0.tsize) }
        case .hamtShard:
            try listShard(node, data: data, into: &out, depth: 0)
        default:
            throw UnixFSError(.wrongType, "\(cid) is a UnixFS \(data.type), not a directory")
        }
        return out.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    private func listShard(_ node: PBNode, data: UnixFSData, into out: inout [Entry], depth: Int) throws {
        guard depth < 16 else { throw UnixFSError(.tooLarge, "HAMT directory deeper than 16 levels") }
        guard data.hashType == 0x22, let fanout = data.fanout, fanout >= 2, fanout <= 1024, fanout & (fanout - 1) == 0 else {
            throw UnixFSError(.invalidValue, "HAMT shard must use murmur3 (0x22) and a power-of-two fanout up to 1024")
        }
        let pad = String(fanout - 1, radix: 16).count
        for link in node.links {
            let name = link.name ?? ""
            guard name.utf8.count >= pad else { throw UnixFSError(.invalidValue, "HAMT link name \"\(name)\" is shorter than its prefix") }
            if name.utf8.count == pad {
                let bytes = try blocks.verifiedBlock(link.hash)
                let child = try PBNode(decoding: bytes)
                try listShard(child, data: try UnixFSData(decoding: child.data ?? []), into: &out, depth: depth + 1)
            } else {
                out.append(Entry(name: String(name.dropFirst(pad)), cid: link.hash, size: link.tsize))
            }
        }
    }
}
