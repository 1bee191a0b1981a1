/// One step of finding a name in a HAMT-sharded UnixFS directory without listing it: which link
/// of a shard node the name's murmur3-x64-64 hash leads to (kubo's layout: link names start
/// with the slot index in upper-case hex, padded to the fanout's width; a link whose name is
/// only the index is a child shard).
public enum HAMTLookup {
    /// Where a name leads from one shard node.
    public enum Step: Hashable, Sendable {
        /// The entry itself.
        case found(PBLink)
        /// A child shard to look in next, one level deeper.
        case shard(PBLink)
        /// The name is not in the directory.
        case absent
    }

    /// The step for `name` at shard `node` (decoded `data`) at `level` (0 at the root).
    /// Throws on a shard that is not murmur3 with a power-of-two fanout up to 1024, or too deep.
    public static func step(node: PBNode, data: UnixFSData, name: String, level: Int) throws(UnixFSError) -> Step {
        guard data.type == .hamtShard else { throw UnixFSError(.wrongType, "not a HAMT shard (UnixFS \(data.type))") }
        guard data.hashType == 0x22, let fanout = data.fanout, fanout >= 2, fanout <= 1024, fanout & (fanout - 1) == 0 else {
            throw UnixFSError(.invalidValue, "HAMT shard must use murmur3 (0x22) and a power-of-two fanout up to 1024")
        }
        let bits = Int(fanout).trailingZeroBitCount
        guard (level + 1) * bits <= 64 else { throw UnixFSError(.tooLarge, "HAMT directory deeper than its 64-bit hash allows") }
        let index = HashBits.index(Murmur3.x64_64(Array(name.utf8)), level: level, bits: bits)
        let pad = String(fanout - 1, radix: 16).count
        let hex = String(index, radix: 16, uppercase: true)
        let prefix = String(repeating: "0", count: pad - hex.count) + hex
        for link in node.links {
            let linkName = link.name ?? ""
            let head = String(decoding: linkName.utf8.prefix(pad), as: UTF8.self)
            guard linkName.utf8.count >= pad, head.uppercased() == prefix else { continue }
            if linkName.utf8.count == pad { return .shard(link) }
            if String(decoding: linkName.utf8.dropFirst(pad), as: UTF8.self) == name { return .found(link) }
        }
        return .absent
    }
}
