import Multiformats

/// One named child of a directory.
public struct DirectoryEntry: Hashable, Sendable {
    public let name: String
    public let node: ImportedNode

    public init(name: String, node: ImportedNode) {
        self.name = name
        self.node = node
    }
}

/// Builds UnixFS directories as kubo does: a single basic node, or a HAMT-sharded directory
/// (murmur3-x64-64, `hamtFanout` slots per node) when the basic node's estimated size exceeds
/// the sharding threshold.
public struct DirectoryEncoder: Sendable {
    public let encoder: NodeEncoder

    public init(encoder: NodeEncoder) { self.encoder = encoder }

    /// Encodes a directory over `entries` (names unique, in any order). Blocks go to `blocks`,
    /// the root's last.
    public func directory(_ entries: [DirectoryEntry], blocks: inout [Block]) throws(UnixFSError) -> ImportedNode {
        let sorted = entries.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        for i in sorted.indices.dropFirst() where sorted[i].name == sorted[i - 1].name {
            throw UnixFSError(.invalidValue, "directory has two entries named \"\(sorted[i].name)\"")
        }
        for e in sorted where e.name.isEmpty || e.name.contains("/") {
            throw UnixFSError(.invalidValue, "directory entry name \"\(e.name)\" is empty or contains '/'")
        }
        let settings = encoder.settings
        if estimatedSize(sorted) > settings.hamtShardingThreshold {
            return try hamtShard(sorted.map { ($0, Murmur3.x64_64(Array($0.name.utf8))) }, depth: 0, blocks: &blocks)
        }
        let node = basicNode(sorted)
        if let b = node.block { blocks.append(b) }
        return node.node
    }

    private func basicNode(_ sorted: [DirectoryEntry]) -> EncodedNode {
        let links = sorted.map { PBLink(hash: $0.node.cid, name: $0.name, tsize: $0.node.cumulativeSize) }
        let childrenSize = sorted.reduce(UInt64(0)) { $0 + $1.node.cumulativeSize }
        return encoder.node(PBNode(links: links, data: UnixFSData(type: .directory).encoded()), fileSize: 0, childrenSize: childrenSize)
    }

    /// The size compared against the sharding threshold, per the settings' estimation mode.
    func estimatedSize(_ sorted: [DirectoryEntry]) -> Int {
        switch encoder.settings.hamtSizeEstimation {
        case .links:
            return sorted.reduce(0) { $0 + $1.name.utf8.count + $1.node.cid.bytes.count }
        case .block:
            let links = sorted.map { PBLink(hash: $0.node.cid, name: $0.name, tsize: $0.node.cumulativeSize) }
            return PBNode(links: links, data: UnixFSData(type: .directory).encoded()).encodedSize
        }
    }

    /// One HAMT node over entries whose first `depth` index groups are equal.
    private func hamtShard(_ entries: [(DirectoryEntry, [UInt8])], depth: Int, blocks: inout [Block]) throws(UnixFSError) -> ImportedNode {
        let fanout = encoder.settings.hamtFanout
        let bitsPerLevel = fanout.trailingZeroBitCount
        guard (depth + 1) * bitsPerLevel <= 64 else {
            throw UnixFSError(.invalidValue, "HAMT directory too deep: names \(entries.map { "\"\($0.0.name)\"" }.joined(separator: ", ")) share a 64-bit hash")
        }
        let padWidth = String(fanout - 1, radix: 16).count
        var slots: [Int: [(DirectoryEntry, [UInt8])]] = [:]
        for e in entries {
            slots[HashBits.index(e.1, level: depth, bits: bitsPerLevel), default: []].append(e)
        }
        var bitfield = [UInt8](repeating: 0, count: fanout / 8)
        var links: [PBLink] = []
        var childrenSize: UInt64 = 0
        for index in slots.keys.sorted() {
            let group = slots[index]!
            bitfield[bitfield.count - 1 - index / 8] |= 1 << UInt8(index % 8)
            let hex = String(index, radix: 16, uppercase: true)
            let prefix = String(repeating: "0", count: padWidth - hex.count) + hex
            if group.count == 1 {
                let entry = group[0].0
                links.append(PBLink(hash: entry.node.cid, name: prefix + entry.name, tsize: entry.node.cumulativeSize))
                childrenSize += entry.node.cumulativeSize
            } else {
                let child = try hamtShard(group, depth: depth + 1, blocks: &blocks)
                links.append(PBLink(hash: child.cid, name: prefix, tsize: child.cumulativeSize))
                childrenSize += child.cumulativeSize
            }
        }
        // go-bitfield's Bytes(): big-endian, leading zero bytes dropped.
        let trimmed = Array(bitfield.drop(while: { $0 == 0 }))
        let data = UnixFSData(
            type: .hamtShard, data: trimmed.isEmpty ? nil : trimmed, hashType: 0x22, fanout: UInt64(fanout))
        let node = encoder.node(PBNode(links: links, data: data.encoded()), fileSize: 0, childrenSize: childrenSize)
        if let b = node.block { blocks.append(b) }
        return node.node
    }

    /// A symlink node: UnixFS type Symlink with the target as its data.
    public func symlink(target: String) -> EncodedNode {
        encoder.node(PBNode(data: UnixFSData(type: .symlink, data: Array(target.utf8)).encoded()), fileSize: 0, childrenSize: 0)
    }
}

/// Reads a HAMT hash as consecutive `bits`-wide indexes, most significant bits first.
enum HashBits {
    static func index(_ hash: [UInt8], level: Int, bits: Int) -> Int {
        var value = 0
        var bit = level * bits
        for _ in 0..<bits {
            let byte = hash[bit / 8]
            value = value << 1 | Int(byte >> (7 - UInt8(bit % 8)) & 1)
            bit += 1
        }
        return value
    }
}
