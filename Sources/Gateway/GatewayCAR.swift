public import Multiformats
import UnixFS

/// Writes the trustless gateway's CAR answer: a CARv1 header naming the request's root CID,
/// the blocks that verify the path (in path order), then the terminal's blocks per
/// `dag-scope`, depth-first (`order=dfs`).
///
/// Rules: identity-hash blocks are never written; with `dups` false each block is written once;
/// `entity` of a file is its blocks (only those `entity-bytes` needs), of a directory its node
/// and HAMT shards (not the entries), of anything else the block; `all` is the whole DAG below
/// the terminal. A block that cannot be obtained mid-stream stops the stream (the client sees
/// an incomplete CAR, as the spec says).
public struct GatewayCAR: Sendable {
    public let blocks: GatewayBlocks

    public init(blocks: GatewayBlocks) { self.blocks = blocks }

    public func write(
        root: CID, _ r: GatewayResolution, scope: GatewayDAGScope, entityBytes: GatewayEntityBytes?, dups: Bool,
        emit: ([UInt8]) async throws -> Void
    ) async throws {
        try await emit(CAR.header(roots: [root]))
        var seen = Set<CID>()
        func put(_ b: Block) async throws {
            guard b.cid.multihash.code != .identity else { return }
            if !dups && !seen.insert(b.cid).inserted { return }
            try await emit(CAR.section(b))
        }
        for b in r.pathBlocks { try await put(b) }
        let terminal = Block(cid: r.cid, bytes: r.bytes)
        switch (entityBytes == nil ? scope : .entity, r.node) {
        case (.block, _): try await put(terminal)
        case (.entity, .file(let size)):
            let range: Range<UInt64>? = entityBytes.map { $0.resolve(size: size) } ?? (0..<size)
            guard let range else { return try await put(terminal) }
            try await GatewayFileWalk(blocks: blocks).walk(r.cid, r.bytes, range: range) { b, _ in try await put(b) }
        case (.entity, .hamt):
            try await put(terminal)
            try await shards(of: terminal, put: put)
        case (.entity, _): try await put(terminal)
        case (.all, _):
            var stack = [terminal.cid]
            var first: Block? = terminal
            while let cid = stack.popLast() {
                if !dups && seen.contains(cid) { continue }
                let b: Block
                if let f = first { b = f; first = nil } else { b = Block(cid: cid, bytes: try await blocks.get(cid)) }
                try await put(b)
                stack.append(contentsOf: try Self.links(b).reversed())
            }
        }
    }

    /// The HAMT shard nodes below `block` (depth-first), written through `put`.
    private func shards(of block: Block, put: (Block) async throws -> Void) async throws {
        guard case .hamt(let pb, let data) = try GatewayNode.decode(block.cid, block.bytes), let fanout = data.fanout else { return }
        let pad = String(fanout - 1, radix: 16).count
        for link in pb.links where (link.name ?? "").utf8.count == pad {
            let child = Block(cid: link.hash, bytes: try await blocks.get(link.hash))
            try await put(child)
            try await shards(of: child, put: put)
        }
    }

    static func links(_ b: Block) throws(GatewayError) -> [CID] {
        do throws(UnixFSError) {
            return try CAR.links(of: b.cid, bytes: b.bytes)
        } catch {
            throw GatewayError(.internal, "block \(b.cid) cannot be decoded as \(b.cid.codec): \(error.message)")
        }
    }
}
