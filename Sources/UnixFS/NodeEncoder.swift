import Multiformats

/// A leaf or node just encoded: what the parent needs, and the block when it was asked for.
public struct EncodedNode: Sendable {
    public let node: ImportedNode
    public let block: Block?
}

/// Encodes leaves and UnixFS nodes with an import's CID version, leaf kind and hash function.
public struct NodeEncoder: Sendable {
    public let settings: ImportSettings
    /// Whether encoded blocks are kept (false: only CIDs are computed, as `--only-hash`).
    public let keepBlocks: Bool

    public init(settings: ImportSettings, keepBlocks: Bool) {
        self.settings = settings
        self.keepBlocks = keepBlocks
    }

    private func hash(_ parts: UnsafeRawBufferPointer...) -> Multihash {
        var hasher = Multihash.Hasher(code: settings.hashFunction)!
        for p in parts { hasher.update(p) }
        return hasher.finalize()
    }

    private func dagPBCID(_ mh: Multihash) -> CID {
        settings.cidVersion == .v0 ? try! CID.v0(mh) : .v1(codec: .dagPB, mh)
    }

    /// With `--inline`, a block of at most the limit's bytes is named by an identity CID
    /// (CIDv1 of its codec, kubo's InlineBuilder); nil otherwise.
    private func inlined(_ bytes: @autoclosure () -> [UInt8], count: Int, codec: Multicodec) -> CID? {
        guard let limit = settings.inlineLimit, count <= limit else { return nil }
        return .v1(codec: codec, try! Multihash.identity(bytes()))
    }

    /// A data leaf: a raw block, or a UnixFS node of `type` (.file for balanced, .raw for
    /// trickle) carrying the chunk. The chunk is hashed in place, never copied unless kept.
    public func leaf(_ chunk: UnsafeRawBufferPointer, type: UnixFSData.DataType) -> EncodedNode {
        let n = UInt64(chunk.count)
        if settings.rawLeaves {
            let cid = inlined(Array(chunk), count: chunk.count, codec: .raw) ?? CID.v1(codec: .raw, hash(chunk))
            return EncodedNode(
                node: ImportedNode(cid: cid, fileSize: n, cumulativeSize: n),
                block: keepBlocks ? Block(cid: cid, bytes: Array(chunk)) : nil)
        }
        // PBNode{Data: UnixFS{Type, Data: chunk, filesize: n}}, framed around the chunk.
        var inner: [UInt8] = []
        Varint.encodeUnbounded(1 << 3, into: &inner)
        Varint.encodeUnbounded(type.rawValue, into: &inner)
        Varint.encodeUnbounded(2 << 3 | 2, into: &inner)
        Varint.encodeUnbounded(n, into: &inner)
        var suffix: [UInt8] = [3 << 3]
        Varint.encodeUnbounded(n, into: &suffix)
        var prefix: [UInt8] = [1 << 3 | 2]
        Varint.encodeUnbounded(UInt64(inner.count + chunk.count + suffix.count), into: &prefix)
        prefix += inner
        let size = UInt64(prefix.count + chunk.count + suffix.count)
        let cid =
            inlined(prefix + Array(chunk) + suffix, count: Int(size), codec: .dagPB)
            ?? dagPBCID(prefix.withUnsafeBytes { p in suffix.withUnsafeBytes { s in hash(p, chunk, s) } })
        return EncodedNode(
            node: ImportedNode(cid: cid, fileSize: n, cumulativeSize: size),
            block: keepBlocks ? Block(cid: cid, bytes: prefix + Array(chunk) + suffix) : nil)
    }

    /// The leaf of a file with no chunks at all (kubo's empty file).
    public func emptyFileLeaf() -> EncodedNode {
        if settings.rawLeaves {
            return leaf(UnsafeRawBufferPointer(start: nil, count: 0), type: .file)
        }
        return node(PBNode(data: UnixFSData(type: .file, fileSize: 0).encoded()), fileSize: 0, childrenSize: 0)
    }

    /// A UnixFS file node over `children`.
    public func fileNode(_ children: [ImportedNode]) -> EncodedNode {
        var fileSize: UInt64 = 0
        var childrenSize: UInt64 = 0
        var links: [PBLink] = []
        links.reserveCapacity(children.count)
        for c in children {
            fileSize += c.fileSize
            childrenSize += c.cumulativeSize
            links.append(PBLink(hash: c.cid, name: "", tsize: c.cumulativeSize))
        }
        let data = UnixFSData(type: .file, fileSize: fileSize, blockSizes: children.map(\.fileSize))
        return node(PBNode(links: links, data: data.encoded()), fileSize: fileSize, childrenSize: childrenSize)
    }

    /// Any dag-pb node: hashes it and accounts its cumulative size.
    public func node(_ pb: PBNode, fileSize: UInt64, childrenSize: UInt64) -> EncodedNode {
        let bytes = pb.encoded()
        let cid = inlined(bytes, count: bytes.count, codec: .dagPB) ?? bytes.withUnsafeBytes { dagPBCID(hash($0)) }
        return EncodedNode(
            node: ImportedNode(cid: cid, fileSize: fileSize, cumulativeSize: UInt64(bytes.count) + childrenSize),
            block: keepBlocks ? Block(cid: cid, bytes: bytes) : nil)
    }
}
