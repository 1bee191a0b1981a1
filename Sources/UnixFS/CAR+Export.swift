public import Multiformats

// Kept apart from the codecs: it verifies blocks, which needs the hash functions.
extension CAR {
    /// Writes a DAG as CAR: the header, then every block reachable from `root` depth-first,
    /// each once, through `write`. Links are followed for dag-pb and dag-cbor blocks.
    public static func export(
        root: CID, blocks: some BlockGetter, write: ([UInt8]) throws -> Void
    ) throws {
        try write(header(roots: [root]))
        var seen = Set<CID>()
        var stack = [root]
        while let cid = stack.popLast() {
            guard seen.insert(cid).inserted else { continue }
            let bytes = try blocks.verifiedBlock(cid)
            try write(section(Block(cid: cid, bytes: bytes)))
            // Push children in reverse so they pop in link order (depth-first, left to right).
            stack.append(contentsOf: try links(of: cid, bytes: bytes).reversed())
        }
    }
}

extension CARReader {
    /// A reader that verifies every block with the hash functions PinMesh computes.
    public static func verifying() -> CARReader {
        CARReader { cid, bytes in cid.multihash.verifies(bytes) }
    }
}
