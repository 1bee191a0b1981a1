public import Multiformats
public import UnixFS

/// What a block is to the gateway.
public enum GatewayNode: Sendable {
    /// A UnixFS file (dag-pb) or a raw block, with its size in bytes.
    case file(size: UInt64)
    case directory(PBNode)
    case hamt(PBNode, UnixFSData)
    case symlink(target: String)
    /// Not UnixFS (dag-cbor, dag-json, …): served as its block.
    case other(Multicodec)

    /// Decodes `bytes` of `cid`; a dag-pb block that is not valid UnixFS is a 500.
    public static func decode(_ cid: CID, _ bytes: [UInt8]) throws(GatewayError) -> GatewayNode {
        if cid.codec == .raw { return .file(size: UInt64(bytes.count)) }
        guard cid.codec == .dagPB else { return .other(cid.codec) }
        do throws(UnixFSError) {
            let node = try PBNode(decoding: bytes)
            let data = try UnixFSData(decoding: node.data ?? [])
            switch data.type {
            case .file, .raw: return .file(size: data.fileSize ?? UInt64(data.data?.count ?? 0))
            case .directory: return .directory(node)
            case .hamtShard: return .hamt(node, data)
            case .symlink: return .symlink(target: String(decoding: data.data ?? [], as: UTF8.self))
            case .metadata: throw UnixFSError(.wrongType, "a UnixFS metadata node")
            }
        } catch {
            throw GatewayError(.internal, "block \(cid) is not a valid UnixFS node: \(error.message)")
        }
    }
}

/// A content path followed to its end.
public struct GatewayResolution: Sendable {
    /// The CID the path ends at, its block and what it is.
    public let cid: CID
    public let bytes: [UInt8]
    public let node: GatewayNode
    /// One CID per logical segment, the root first (`X-Ipfs-Roots`).
    public let roots: [CID]
    /// Every block read to get there, in order, the terminal block excluded (the CAR answer's
    /// path blocks: directories and the HAMT shards crossed).
    public let pathBlocks: [Block]
}

/// Follows a ``GatewayPath`` through UnixFS directories (basic and HAMT, HAMTs by hashing the
/// name, not listing them). A name that is missing, or under a file, is `notFound` saying which
/// part of the path; a name under a non-UnixFS node or a symlink is `notImplemented`.
public struct GatewayResolver: Sendable {
    public let blocks: GatewayBlocks
    /// HAMT levels followed for one name (a 64-bit hash has at most 64 one-bit levels).
    public static let maxShardLevels = 64

    public init(blocks: GatewayBlocks) { self.blocks = blocks }

    public func resolve(_ path: GatewayPath) async throws(GatewayError) -> GatewayResolution {
        var cid = path.cid
        var bytes = try await blocks.get(cid)
        var node = try GatewayNode.decode(cid, bytes)
        var roots = [cid]
        var pathBlocks: [Block] = []
        var walked = "/ipfs/\(path.cidText)"
        for name in path.names {
            pathBlocks.append(Block(cid: cid, bytes: bytes))
            let link: PBLink?
            switch node {
            case .directory(let pb): link = pb.links.first { $0.name == name }
            case .hamt(let pb, let data): link = try await hamtLink(pb, data, name: name, at: walked, blocks: &pathBlocks)
            case .file:
                throw GatewayError(.notFound, "\(walked) is a file; it has no entry \(name.debugDescription)")
            case .symlink:
                throw GatewayError(.notImplemented, "\(walked) is a symlink; the gateway does not follow symlinks inside a path")
            case .other(let codec):
                throw GatewayError(.notImplemented, "\(walked) is \(codec); the gateway follows paths through UnixFS directories only")
            }
            guard let link else { throw GatewayError(.notFound, "no link named \(name.debugDescription) under \(walked)") }
            cid = link.hash
            bytes = try await blocks.get(cid)
            node = try GatewayNode.decode(cid, bytes)
            roots.append(cid)
            walked += "/" + GatewayPath.escape(name)
        }
        return GatewayResolution(cid: cid, bytes: bytes, node: node, roots: roots, pathBlocks: pathBlocks)
    }

    /// The link `name` leads to in a HAMT directory (nil: absent); the shard blocks crossed
    /// below the top one are appended to `blocks`.
    func hamtLink(_ top: PBNode, _ topData: UnixFSData, name: String, at walked: String, blocks out: inout [Block]) async throws(GatewayError) -> PBLink? {
        var node = top
        var data = topData
        for level in 0..<Self.maxShardLevels {
            let step: HAMTLookup.Step
            do throws(UnixFSError) {
                step = try HAMTLookup.step(node: node, data: data, name: name, level: level)
            } catch {
                throw GatewayError(.internal, "the HAMT directory at \(walked) is malformed: \(error.message)")
            }
            switch step {
            case .absent: return nil
            case .found(let link): return link
            case .shard(let link):
                let bytes = try await blocks.get(link.hash)
                out.append(Block(cid: link.hash, bytes: bytes))
                guard case .hamt(let n, let d) = try GatewayNode.decode(link.hash, bytes) else {
                    throw GatewayError(.internal, "the HAMT directory at \(walked) links shard \(link.hash), which is not a HAMT shard")
                }
                node = n
                data = d
            }
        }
        throw GatewayError(.internal, "the HAMT directory at \(walked) is deeper than \(Self.maxShardLevels) levels")
    }

    /// Every entry of a directory (basic or HAMT, shards fetched as needed), sorted by name.
    public func list(_ node: GatewayNode) async throws(GatewayError) -> [(name: String, cid: CID, size: UInt64?)] {
        var out: [(name: String, cid: CID, size: UInt64?)] = []
        switch node {
        case .directory(let pb): for l in pb.links { out.append((l.name ?? "", l.hash, l.tsize)) }
        case .hamt(let pb, let data): try await listShard(pb, data, depth: 0, into: &out)
        default: return []
        }
        return out.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    private func listShard(_ node: PBNode, _ data: UnixFSData, depth: Int, into out: inout [(name: String, cid: CID, size: UInt64?)]) async throws(GatewayError) {
        guard depth < Self.maxShardLevels, let fanout = data.fanout, fanout >= 2, fanout <= 1024 else {
            throw GatewayError(.internal, "a HAMT directory is malformed (fanout or depth out of range)")
        }
        let pad = String(fanout - 1, radix: 16).count
        for link in node.links {
            let name = link.name ?? ""
            guard name.utf8.count >= pad else { throw GatewayError(.internal, "a HAMT link name is shorter than its prefix") }
            if name.utf8.count == pad {
                let bytes = try await blocks.get(link.hash)
                guard case .hamt(let n, let d) = try GatewayNode.decode(link.hash, bytes) else {
                    throw GatewayError(.internal, "a HAMT directory links \(link.hash), which is not a HAMT shard")
                }
                try await listShard(n, d, depth: depth + 1, into: &out)
            } else {
                out.append((String(decoding: name.utf8.dropFirst(pad), as: UTF8.self), link.hash, link.tsize))
            }
        }
    }
}
