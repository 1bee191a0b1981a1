public import Multiformats
public import UnixFS

/// Walks the blocks of a UnixFS file (or raw block) that a byte range needs, depth-first in
/// file order, fetching each a few blocks ahead of need: memory holds at most ``window`` + 1
/// blocks per DAG level, never the file.
///
/// Rules: only children whose `blocksizes` span overlaps the range are fetched; a child whose
/// actual size disagrees with its parent's `blocksizes` entry, a DAG deeper than ``maxDepth``,
/// or a node that is not part of a file stops the walk with a `internal` error (the bytes sent
/// so far are then all that is sent).
public struct GatewayFileWalk: Sendable {
    public let blocks: GatewayBlocks
    public static let maxDepth = 64

    public init(blocks: GatewayBlocks) { self.blocks = blocks }

    /// Calls `visit` with every block the range `[range)` of the file at `cid` (its `bytes`
    /// given) needs, the root first, and the part of the file's bytes each block carries within
    /// the range (empty for inner nodes without data).
    public func walk(
        _ cid: CID, _ bytes: [UInt8], range: Range<UInt64>, visit: (Block, ArraySlice<UInt8>) async throws -> Void
    ) async throws {
        try await node(cid, bytes, at: 0, expected: nil, range: range, depth: 0, visit: visit)
    }

    private func node(
        _ cid: CID, _ bytes: [UInt8], at start: UInt64, expected: UInt64?, range: Range<UInt64>, depth: Int,
        visit: (Block, ArraySlice<UInt8>) async throws -> Void
    ) async throws {
        guard depth < Self.maxDepth else { throw GatewayError(.internal, "the file DAG is deeper than \(Self.maxDepth) levels at \(cid)") }
        if cid.codec == .raw {
            if let expected, expected != UInt64(bytes.count) {
                throw GatewayError(.internal, "raw block \(cid) holds \(bytes.count) bytes but its parent says \(expected)")
            }
            try await visit(Block(cid: cid, bytes: bytes), Self.slice(bytes[...], at: start, range))
            return
        }
        guard cid.codec == .dagPB else { throw GatewayError(.internal, "\(cid) is \(cid.codec), not part of a UnixFS file") }
        let pb: PBNode
        let data: UnixFSData
        do throws(UnixFSError) {
            pb = try PBNode(decoding: bytes)
            data = try UnixFSData(decoding: pb.data ?? [])
        } catch {
            throw GatewayError(.internal, "block \(cid) of the file is not valid UnixFS: \(error.message)")
        }
        guard data.type == .file || data.type == .raw else {
            throw GatewayError(.internal, "\(cid) is a UnixFS \(data.type), not part of a file")
        }
        let own = data.data ?? []
        let total = data.fileSize ?? UInt64(own.count) + data.blockSizes.reduce(0, +)
        if let expected, expected != total {
            throw GatewayError(.internal, "file node \(cid) holds \(total) bytes but its parent says \(expected)")
        }
        try await visit(Block(cid: cid, bytes: bytes), Self.slice(own[...], at: start, range))
        guard !pb.links.isEmpty else { return }
        guard data.blockSizes.count == pb.links.count else {
            throw GatewayError(.internal, "\(cid) has \(pb.links.count) links but \(data.blockSizes.count) blocksizes")
        }
        // The children the range needs, each with its file offset and size.
        var needed: [(link: PBLink, at: UInt64, size: UInt64)] = []
        var position = start + UInt64(own.count)
        for (link, size) in zip(pb.links, data.blockSizes) {
            if position >= range.upperBound { break }
            if position + size > range.lowerBound && size > 0 { needed.append((link, position, size)) }
            position += size
        }
        // Up to `window` children are fetched ahead while the current one is walked, so a read
        // from disk or a peer overlaps the write to the client.
        var ahead: [Task<[UInt8], any Error>] = []
        defer { for t in ahead { t.cancel() } }
        var next = 0
        for child in needed {
            while next < needed.count && ahead.count < Self.window {
                let cid = needed[next].link.hash
                let source = blocks
                ahead.append(Task { try await source.get(cid) })
                next += 1
            }
            let bytes = try await ahead.removeFirst().value
            try await node(child.link.hash, bytes, at: child.at, expected: child.size, range: range, depth: depth + 1, visit: visit)
        }
    }

    /// Children of one node fetched ahead of the walk (memory: this many blocks per DAG level).
    public static let window = 4

    /// The part of `bytes`, which sit at file offset `start`, inside `range`.
    static func slice(_ bytes: ArraySlice<UInt8>, at start: UInt64, _ range: Range<UInt64>) -> ArraySlice<UInt8> {
        let end = start + UInt64(bytes.count)
        let lo = max(start, range.lowerBound), hi = min(end, range.upperBound)
        guard lo < hi else { return [] }
        return bytes[bytes.startIndex + Int(lo - start)..<bytes.startIndex + Int(hi - start)]
    }
}
