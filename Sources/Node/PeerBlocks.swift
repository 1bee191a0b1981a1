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

    /// Answers `ipfs/block` from `local`. The block last asked for is kept, so its chunks are
    /// read once.
    public static func serve(on server: RPCServer, local: @escaping LocalBlocks) {
        let last = NIOLockedValueBox<(CID, [UInt8])?>(nil)
        server.register(method) { _, payload in
            guard payload.count > 8 else { throw TransportError(.malformed, "ipfs/block request too short: offset and CID expected") }
            let offset = payload.prefix(8).reduce(0) { $0 << 8 | Int($1) }
            let cid = try CID(bytes: Array(payload.dropFirst(8)))
            let bytes: [UInt8]
            if let (c, b) = last.withLockedValue({ $0 }), c == cid {
                bytes = b
            } else {
                guard let b = try await local(cid), b.count <= maxBlockBytes else { return [0] }
                last.withLockedValue { $0 = (cid, b) }
                bytes = b
            }
            guard offset >= 0, offset <= bytes.count else { throw TransportError(.malformed, "ipfs/block offset \(offset) is past the block's \(bytes.count) bytes") }
            let size = UInt32(bytes.count)
            var out: [UInt8] = [1, UInt8(size >> 24), UInt8(size >> 16 & 0xff), UInt8(size >> 8 & 0xff), UInt8(size & 0xff)]
            out += bytes[offset..<min(bytes.count, offset + chunkBytes)]
            return out
        }
    }

    /// The block `cid` from `peer`, checked against its CID; nil when the peer lacks it.
    public static func fetch(_ cid: CID, from connection: PeerConnection, timeout: Duration = .seconds(10)) async throws -> [UInt8]? {
        var bytes: [UInt8] = []
        var size = -1
        repeat {
            var request = withUnsafeBytes(of: UInt64(bytes.count).bigEndian) { Array($0) }
            request += cid.bytes
            let answer = try await connection.call(method, request, timeout: timeout)
            guard let status = answer.first else { throw TransportError(.malformed, "empty ipfs/block answer from \(connection.peer)") }
            if status == 0 { return nil }
            guard status == 1, answer.count >= 5 else { throw TransportError(.malformed, "bad ipfs/block answer from \(connection.peer)") }
            let total = answer[1...4].reduce(0) { $0 << 8 | Int($1) }
            guard total <= maxBlockBytes, size == -1 || total == size else {
                throw TransportError(.malformed, "ipfs/block answer from \(connection.peer) gives an inconsistent or oversized block size \(total)")
            }
            size = total
            let chunk = answer.dropFirst(5)
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
