public import EmbeddedIPFS
import Foundation
public import Logging
public import Multiformats
import NIOConcurrencyHelpers
public import Transport

/// Blocks between peers over RPC, so a peer whose IPFS store lacks a pinned DAG's blocks
/// gets them from the peers that hold them (`Specs/cluster-rpc.md`, `ipfs/block`).
///
/// One RPC answer carries at most `RPCFrame.maxPayload` bytes, so a block travels in chunks:
/// the request is the offset (8 bytes, big-endian) and the CID's bytes; the answer is a
/// status byte (0: not here, 1: here), the block's size (4 bytes, big-endian) and the bytes
/// from the offset on, as many as fit.
public enum PeerBlocks {
    public static let method = "ipfs/block"
    static let chunkBytes = RPCFrame.maxPayload - 5
    /// The largest block served or accepted (the blockstore's hard limit).
    public static let maxBlockBytes = 4 << 20

    /// Where the local blocks come from: the embedded repository, or the IPFS daemon.
    public typealias LocalBlocks = @Sendable (CID) async throws -> [UInt8]?

    // MARK: wire format

    /// A request: the offset (8 bytes, big-endian) and the CID's bytes.
    public static func request(_ cid: CID, offset: Int) -> [UInt8] {
        withUnsafeBytes(of: UInt64(offset).bigEndian) { Array($0) } + cid.bytes
    }

    public static func parseRequest(_ payload: [UInt8]) throws -> (cid: CID, offset: Int) {
        guard payload.count > 8 else { throw TransportError(.malformed, "ipfs/block request of \(payload.count) bytes: an 8-byte offset and a CID expected") }
        let offset = payload.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard offset <= UInt64(maxBlockBytes) else { throw TransportError(.malformed, "ipfs/block offset \(offset) is past any block (at most \(maxBlockBytes) bytes)") }
        do {
            return (try CID(bytes: Array(payload.dropFirst(8))), Int(offset))
        } catch {
            throw TransportError(.malformed, "ipfs/block request: \(error)")
        }
    }

    /// The answer for `block` (nil: not here) from `offset`: status 1, the block's size
    /// (4 bytes, big-endian) and as many bytes as fit one answer; or the single byte 0.
    public static func answer(_ block: [UInt8]?, offset: Int) throws -> [UInt8] {
        guard let block, block.count <= maxBlockBytes else { return [0] }
        guard offset <= block.count else { throw TransportError(.malformed, "ipfs/block offset \(offset) is past the block's \(block.count) bytes") }
        let size = UInt32(block.count)
        return [1, UInt8(size >> 24), UInt8(size >> 16 & 0xff), UInt8(size >> 8 & 0xff), UInt8(size & 0xff)]
            + block[offset..<min(block.count, offset + chunkBytes)]
    }

    /// What an answer says: nil when the peer lacks the block, else the block's size and a chunk.
    public static func parseAnswer(_ answer: [UInt8]) throws -> (size: Int, chunk: ArraySlice<UInt8>)? {
        guard let status = answer.first else { throw TransportError(.malformed, "empty ipfs/block answer") }
        if status == 0, answer.count == 1 { return nil }
        guard status == 1, answer.count >= 5 else { throw TransportError(.malformed, "ipfs/block answer with status \(status) and \(answer.count) bytes") }
        let size = answer[1...4].reduce(0) { $0 << 8 | Int($1) }
        guard size <= maxBlockBytes else { throw TransportError(.malformed, "ipfs/block answer gives a block of \(size) bytes, over the \(maxBlockBytes) limit") }
        guard answer.count - 5 <= min(size, chunkBytes) else { throw TransportError(.malformed, "ipfs/block answer carries more bytes than the block or a chunk holds") }
        return (size, answer.dropFirst(5))
    }

    // MARK: serving and fetching

    /// Answers `ipfs/block` from `local`. The block last asked for is kept, so its chunks are
    /// read once.
    public static func serve(on server: RPCServer, local: @escaping LocalBlocks) {
        let last = NIOLockedValueBox<(CID, [UInt8])?>(nil)
        server.register(method) { _, payload in
            let (cid, offset) = try parseRequest(payload)
            let bytes: [UInt8]?
            if let (c, b) = last.withLockedValue({ $0 }), c == cid {
                bytes = b
            } else {
                // Only a present block is kept: one missing now may arrive later.
                bytes = try await local(cid)
                if let bytes { last.withLockedValue { $0 = (cid, bytes) } }
            }
            return try answer(bytes, offset: offset)
        }
    }

    /// The block `cid` from `peer`, checked against its CID; nil when the peer lacks it.
    public static func fetch(_ cid: CID, from connection: PeerConnection, timeout: Duration = .seconds(10)) async throws -> [UInt8]? {
        var bytes: [UInt8] = []
        var size = -1
        repeat {
            let reply = try await connection.call(method, request(cid, offset: bytes.count), timeout: timeout)
            guard let (total, chunk) = try parseAnswer(reply) else { return nil }
            guard size == -1 || total == size else {
                throw TransportError(.malformed, "\(connection.peer) changed the size of \(cid) between chunks (\(size), then \(total))")
            }
            size = total
            guard !chunk.isEmpty || bytes.count == size else { throw TransportError(.malformed, "ipfs/block answer from \(connection.peer) made no progress") }
            bytes += chunk
            guard bytes.count <= size else { throw TransportError(.malformed, "ipfs/block answer from \(connection.peer) is longer than the block") }
        } while bytes.count < size
        guard cid.multihash.verifies(bytes) != false else {
            throw TransportError(.malformed, "\(connection.peer) sent bytes for \(cid) that do not match the CID; ignored")
        }
        return bytes
    }
}

/// The embedded IPFS node's `BlockFetcher`: asks the peers that should hold the content
/// first (the allocations of the pins in progress), then every other connected peer, one at
/// a time; the peer that answered last is asked first next time (a DAG's blocks are usually
/// all in the same places).
public final class PeerBlockFetcher: BlockFetcher {
    private let transport: SecureTransport
    private let preferred: @Sendable () async -> [PeerID]
    private let lastGood = NIOLockedValueBox<PeerID?>(nil)
    private let logger: Logger

    /// - Parameter preferred: peers to ask before the others (e.g. allocations of pins in progress).
    public init(transport: SecureTransport, logger: Logger = Logger(label: "pinmesh.fetch"), preferred: @escaping @Sendable () async -> [PeerID] = { [] }) {
        self.transport = transport
        self.preferred = preferred
        self.logger = logger
    }

    /// Makes this the fetcher of `repo` (raced against `network`, the IPFS network over bitswap,
    /// when given), and has the blocks its pins wait for asked again whenever a cluster peer
    /// connects (it may hold them: a holder restarted, a partition healed).
    public static func install(on repo: IPFSRepo, transport: SecureTransport, network: (any BlockFetcher)? = nil, logger: Logger) {
        let cluster = PeerBlockFetcher(transport: transport, logger: logger)
        repo.setFetcher(network.map { RacingFetcher([$0, cluster]) } ?? cluster)
        transport.onConnectionChange { [weak repo] _, event in
            if case .connected = event { repo?.retryFetches() }
        }
    }

    public func fetch(_ cid: CID) async throws -> [UInt8]? {
        var order: [PeerID] = []
        if let p = lastGood.withLockedValue({ $0 }) { order.append(p) }
        for p in await preferred() where !order.contains(p) { order.append(p) }
        for p in transport.connectedPeers where !order.contains(p) { order.append(p) }
        for peer in order where peer != transport.localPeer {
            try Task.checkCancellation()
            guard let c = transport.connection(to: peer) else { continue }
            do {
                if let bytes = try await PeerBlocks.fetch(cid, from: c) {
                    lastGood.withLockedValue { $0 = peer }
                    return bytes
                }
            } catch {
                logger.debug("block fetch failed", metadata: ["cid": "\(cid)", "from": "\(peer)", "error": "\(error)"])
            }
        }
        return nil
    }
}
