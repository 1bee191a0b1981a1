import ClusterModel
import Foundation
public import EmbeddedIPFS
import Logging
public import Multiformats
import NIOConcurrencyHelpers
public import Transport
public import UnixFS

/// Where a peer stores the blocks it is given (an add's blocks, from this peer or another):
/// the embedded repository, or the IPFS daemon's `block/put`.
public struct LocalBlockStore: Sendable {
    /// Stores blocks whose bytes were checked against their CIDs.
    public var put: @Sendable ([Block]) async throws -> Void
    /// Makes every block stored so far durable (before a pin of them is committed).
    public var sync: @Sendable () async throws -> Void

    public init(put: @escaping @Sendable ([Block]) async throws -> Void, sync: @escaping @Sendable () async throws -> Void = {}) {
        self.put = put
        self.sync = sync
    }
}

/// Blocks pushed to a peer over RPC (`Specs/cluster-rpc.md`, `ipfs/put`): an add to the
/// cluster sends each block to the peers allocated the content while the upload streams in.
///
/// A request is one or more pieces, each `varint(len(cid)) cid varint(size) varint(offset)
/// varint(len(bytes)) bytes`: the bytes of the block `cid` (of `size` bytes) from `offset`.
/// Small blocks share a request; a block larger than a request travels in pieces, which may
/// arrive in any order (calls run concurrently). The answer is empty. An empty request asks
/// the peer to make what it stored durable.
public enum BlockPush {
    public static let method = "ipfs/put"
    /// The largest block pushed or accepted (the blockstore's hard limit).
    public static let maxBlockBytes = PeerBlocks.maxBlockBytes
    /// Partly received blocks a peer keeps at most, over all senders; the oldest is dropped
    /// beyond it (its sender's add then fails for that peer, which is dropped from the add).
    public static let maxPartialBlocks = 64
    /// Bytes of partly received blocks kept at most (their buffers are allocated whole on the
    /// first piece); the oldest are dropped beyond it.
    public static let maxPartialBytes = 32 << 20
    /// The longest CID accepted in a piece.
    public static let maxCIDBytes = 128

    public struct Piece: Equatable, Sendable {
        public var cid: CID
        public var size: Int
        public var offset: Int
        public var bytes: ArraySlice<UInt8>
    }

    // MARK: wire format

    static func pieceHeaderBytes(_ cid: CID, size: Int, offset: Int, count: Int) -> Int {
        Varint.encodedLength(UInt64(cid.bytes.count)) + cid.bytes.count + Varint.encodedLength(UInt64(size))
            + Varint.encodedLength(UInt64(offset)) + Varint.encodedLength(UInt64(count))
    }

    static func append(_ block: Block, offset: Int, count: Int, to out: inout [UInt8]) {
        Varint.encode(UInt64(block.cid.bytes.count), into: &out)
        out += block.cid.bytes
        Varint.encode(UInt64(block.bytes.count), into: &out)
        Varint.encode(UInt64(offset), into: &out)
        Varint.encode(UInt64(count), into: &out)
        out += block.bytes[offset..<offset + count]
    }

    /// Splits `blocks` into requests of at most `limit` bytes, packing small blocks together
    /// (in order) and cutting large ones into pieces.
    public static func requests(_ blocks: [Block], limit: Int = RPCFrame.maxPayload) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var current: [UInt8] = []
        for block in blocks {
            var offset = 0
            repeat {
                let header = pieceHeaderBytes(block.cid, size: block.bytes.count, offset: offset, count: min(block.bytes.count - offset, limit))
                var room = limit - current.count - header
                if room < min(block.bytes.count - offset, 1024) || room <= 0, !current.isEmpty {
                    out.append(current)
                    current = []
                    room = limit - header
                }
                let count = min(block.bytes.count - offset, room)
                append(block, offset: offset, count: count, to: &current)
                offset += count
            } while offset < block.bytes.count
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// The pieces of a request; throws on anything malformed (nothing is stored then).
    public static func parse(_ payload: [UInt8]) throws -> [Piece] {
        guard payload.count <= RPCFrame.maxPayload else {
            throw TransportError(.malformed, "ipfs/put request of \(payload.count) bytes, over the \(RPCFrame.maxPayload)-byte limit")
        }
        var reader = ByteReader(payload)
        var pieces: [Piece] = []
        do {
            while !reader.isAtEnd {
                let cidLength = try reader.readLength(limit: maxCIDBytes, what: "ipfs/put CID")
                let cid = try CID(bytes: try reader.readBytes(cidLength, what: "ipfs/put CID"))
                let size = try reader.readLength(limit: maxBlockBytes, what: "ipfs/put block")
                let offset = try reader.readLength(limit: size, what: "ipfs/put offset")
                let count = try reader.readLength(limit: size - offset, what: "ipfs/put piece")
                guard count > 0 || size == 0 else {
                    throw TransportError(.malformed, "ipfs/put piece of \(cid) carries no bytes")
                }
                let start = reader.offset
                _ = try reader.readBytes(count, what: "ipfs/put piece of \(cid)")
                pieces.append(Piece(cid: cid, size: size, offset: offset, bytes: payload[start..<start + count]))
            }
        } catch let e as MultiformatsError {
            throw TransportError(.malformed, "ipfs/put request: \(e)")
        }
        return pieces
    }

    // MARK: receiving

    /// Puts pieces back together into blocks, checked against their CIDs.
    public final class Assembler: Sendable {
        struct Key: Hashable, Sendable {
            let peer: PeerID
            let cid: CID
        }
        struct Partial {
            var bytes: [UInt8]
            var offsets: Set<Int>
            var received: Int
            let serial: UInt64
        }
        struct State {
            var partials: [Key: Partial] = [:]
            var partialBytes = 0
            var serial: UInt64 = 0
            /// Blocks completed lately: late duplicate pieces of them (a block sent twice,
            /// as repeated content makes) are ignored instead of starting a partial again.
            var done = RecentSet<Key>(capacity: Assembler.rememberDone)
        }
        private let state = NIOLockedValueBox(State())
        let limit: Int
        let byteLimit: Int
        static let rememberDone = 1024

        public init(limit: Int = BlockPush.maxPartialBlocks, byteLimit: Int = BlockPush.maxPartialBytes) {
            self.limit = limit
            self.byteLimit = byteLimit
        }

        /// Bytes held by partly received blocks now.
        public var partialBytes: Int { state.withLockedValue { $0.partialBytes } }

        /// Blocks partly received now.
        public var partialCount: Int { state.withLockedValue { $0.partials.count } }

        /// Takes one piece from `peer`; returns the block when it is complete. A piece already
        /// taken (the same block sent twice) is ignored.
        public func take(_ piece: Piece, from peer: PeerID) throws -> Block? {
            if piece.offset == 0, piece.bytes.count == piece.size {
                return try Self.checked(piece.cid, Array(piece.bytes), from: peer)
            }
            let key = Key(peer: peer, cid: piece.cid)
            let complete: [UInt8]? = try state.withLockedValue { s in
                if s.done.contains(key) { return nil }
                if s.partials[key] == nil {
                    // Room first: drop the oldest partial blocks until this one fits.
                    while !s.partials.isEmpty, s.partials.count >= limit || s.partialBytes + piece.size > byteLimit,
                        let oldest = s.partials.min(by: { $0.value.serial < $1.value.serial })?.key
                    {
                        s.partialBytes -= s.partials.removeValue(forKey: oldest)?.bytes.count ?? 0
                    }
                    s.partials[key] = Partial(bytes: [UInt8](repeating: 0, count: piece.size), offsets: [], received: 0, serial: s.serial)
                    s.partialBytes += piece.size
                    s.serial += 1
                }
                var p = s.partials[key]!
                guard p.bytes.count == piece.size else {
                    s.partialBytes -= s.partials.removeValue(forKey: key)?.bytes.count ?? 0
                    throw TransportError(.malformed, "ipfs/put: \(peer) gave \(piece.cid) as \(p.bytes.count) bytes, then as \(piece.size)")
                }
                guard p.offsets.insert(piece.offset).inserted else { return nil }
                guard p.received + piece.bytes.count <= piece.size else {
                    s.partialBytes -= s.partials.removeValue(forKey: key)?.bytes.count ?? 0
                    throw TransportError(.malformed, "ipfs/put: \(peer) sent more bytes of \(piece.cid) than its \(piece.size)")
                }
                p.bytes.withUnsafeMutableBytes { dst in
                    piece.bytes.withUnsafeBytes { src in
                        dst.baseAddress!.advanced(by: piece.offset).copyMemory(from: src.baseAddress!, byteCount: src.count)
                    }
                }
                p.received += piece.bytes.count
                if p.received == piece.size {
                    s.partialBytes -= s.partials.removeValue(forKey: key)?.bytes.count ?? 0
                    return p.bytes
                }
                s.partials[key] = p
                return nil
            }
            guard let complete else { return nil }
            let block = try Self.checked(piece.cid, complete, from: peer)
            // Only a block whose bytes check out is remembered as done.
            state.withLockedValue { s in _ = s.done.insert(key) }
            return block
        }

        static func checked(_ cid: CID, _ bytes: [UInt8], from peer: PeerID) throws -> Block {
            guard cid.multihash.verifies(bytes) != false else {
                throw TransportError(.malformed, "ipfs/put: the bytes \(peer) sent for \(cid) do not hash to it; nothing stored")
            }
            return Block(cid: cid, bytes: bytes)
        }
    }

    /// Answers `ipfs/put`: complete blocks go to `store`; an empty request syncs it.
    public static func serve(on server: RPCServer, store: LocalBlockStore) {
        let assembler = Assembler()
        server.register(method) { peer, payload in
            if payload.isEmpty {
                try await store.sync()
                return []
            }
            var blocks: [Block] = []
            for piece in try parse(payload) {
                if let b = try assembler.take(piece, from: peer) { blocks.append(b) }
            }
            if !blocks.isEmpty { try await store.put(blocks) }
            return []
        }
    }
}

// MARK: sending

/// Where an add's blocks go: one allocated peer.
public protocol BlockDestination: Sendable {
    var peer: PeerID { get }
    /// Sends blocks; returns when the destination can take more (backpressure). Throws when
    /// the destination failed (then or earlier).
    func put(_ blocks: [Block]) async throws
    /// Sends what is pending, waits for all of it, and makes it durable.
    func finish() async throws
}

/// This peer's own store.
public struct LocalDestination: BlockDestination {
    public let peer: PeerID
    let store: LocalBlockStore

    public init(peer: PeerID, store: LocalBlockStore) {
        self.peer = peer
        self.store = store
    }

    public func put(_ blocks: [Block]) async throws { try await store.put(blocks) }
    public func finish() async throws { try await store.sync() }
}

/// Another peer, over `ipfs/put`: requests fill up to a frame; at most `window` calls are in
/// flight, and `put` waits for the oldest when the window is full.
public actor RemoteDestination: BlockDestination {
    public nonisolated let peer: PeerID
    let call: @Sendable ([UInt8]) async throws -> Void
    let window: Int
    private var pending: [Block] = []
    private var pendingBytes = 0
    private var inFlight: [Task<Void, any Error>] = []
    private var failure: (any Error)?

    public init(peer: PeerID, window: Int = 32, call: @escaping @Sendable ([UInt8]) async throws -> Void) {
        self.peer = peer
        self.window = window
        self.call = call
    }

    /// Over the transport's connection to `peer` (nil when not connected).
    public init?(peer: PeerID, transport: SecureTransport, window: Int = 32, timeout: Duration = .seconds(30)) {
        guard let connection = transport.connection(to: peer) else { return nil }
        self.init(peer: peer, window: window) { payload in _ = try await connection.call(BlockPush.method, payload, timeout: timeout) }
    }

    public func put(_ blocks: [Block]) async throws {
        if let failure { throw failure }
        pending += blocks
        pendingBytes += blocks.reduce(0) { $0 + $1.bytes.count }
        if pendingBytes >= RPCFrame.maxPayload { try await dispatch() }
    }

    public func finish() async throws {
        if let failure { throw failure }
        try await dispatch()
        while !inFlight.isEmpty { try await awaitOldest() }
        try await call([])
    }

    /// Sends what is pending, packed into requests.
    private func dispatch() async throws {
        let requests = BlockPush.requests(pending)
        pending = []
        pendingBytes = 0
        for r in requests {
            while inFlight.count >= window { try await awaitOldest() }
            let call = self.call
            inFlight.append(Task { try await call(r) })
        }
    }

    private func awaitOldest() async throws {
        let task = inFlight.removeFirst()
        do {
            try await task.value
        } catch {
            failure = error
            for t in inFlight { t.cancel() }
            inFlight = []
            throw error
        }
    }
}

extension LocalBlockStore {
    /// The embedded repository: blocks go straight into its blockstore (their bytes were
    /// checked against their CIDs already: made by the importer here, or by the assembler).
    public init(repo: IPFSRepo) {
        self.init(
            put: { blocks in
                let op = repo.beginOperation()
                defer { op.end() }
                for b in blocks { try op.put(b, hashed: true) }
            },
            sync: { try repo.blocks.sync() })
    }
}
