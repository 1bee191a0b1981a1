public import Multiformats
import UnixFS

/// What a peer publishes on `pinset/<cluster_name>` after each commit and periodically: its
/// heads, and the new nodes themselves when they fit, so most receivers apply them with no
/// round trip (`Specs/pinset-crdt.md`, "Announcement").
public struct PinsetAnnouncement: Hashable, Sendable {
    public static let maxHeads = DeltaNode.maxParents
    /// Nodes travel inline only while the whole message stays under this.
    public static let maxInlineBytes = 48_000

    public var heads: [CID]
    /// Encoded nodes, parents first; may be empty.
    public var nodes: [[UInt8]]
    /// The root of the snapshot the sender serves, if any.
    public var snapshot: CID?
    /// The newest snapshot whose heads the sender has all applied (its acknowledgement:
    /// history below it may be dropped once every live trusted peer acknowledged it).
    public var acknowledged: CID?

    public init(heads: [CID], nodes: [[UInt8]] = [], snapshot: CID? = nil, acknowledged: CID? = nil) {
        self.heads = heads
        self.nodes = nodes
        self.snapshot = snapshot
        self.acknowledged = acknowledged
    }

    public func encoded() -> [UInt8] {
        var m: [String: DagCBOR] = ["h": .list(heads.map { .link($0) })]
        if !nodes.isEmpty { m["n"] = .list(nodes.map { .bytes($0) }) }
        if let snapshot { m["s"] = .link(snapshot) }
        if let acknowledged { m["a"] = .link(acknowledged) }
        return DagCBOR.map(m).encoded()
    }

    public init(decoding bytes: [UInt8]) throws(PinsetError) {
        let m = try SyncCodec.map(bytes, "announcement", allowed: ["h", "n", "s", "a"])
        heads = try SyncCodec.links(m["h"], "announcement heads", max: Self.maxHeads)
        nodes = try SyncCodec.blobs(m["n"], "announcement nodes", maxTotal: Self.maxInlineBytes)
        snapshot = try SyncCodec.link(m["s"], "announcement snapshot")
        acknowledged = try SyncCodec.link(m["a"], "announcement acknowledgement")
    }
}

/// A request for the nodes the requester lacks (`Specs/pinset-crdt.md`, "Fetch").
public struct PinsetFetchRequest: Hashable, Sendable {
    /// Heads wanted; empty means "your heads".
    public var want: [CID]
    /// The requester's heads: everything below them it has.
    public var have: [CID]

    public init(want: [CID] = [], have: [CID]) {
        self.want = want
        self.have = have
    }

    public func encoded() -> [UInt8] {
        DagCBOR.map(["w": .list(want.map { .link($0) }), "h": .list(have.map { .link($0) })]).encoded()
    }

    public init(decoding bytes: [UInt8]) throws(PinsetError) {
        let m = try SyncCodec.map(bytes, "fetch request", allowed: ["w", "h"])
        want = try SyncCodec.links(m["w"], "fetch want", max: PinsetAnnouncement.maxHeads)
        have = try SyncCodec.links(m["h"], "fetch have", max: PinsetAnnouncement.maxHeads)
    }
}

/// One page of the answer: missing nodes in ascending height, and how many remain after it.
public struct PinsetFetchResponse: Hashable, Sendable {
    /// A page never exceeds this, so it fits one RPC frame.
    public static let maxBytes = 64_000

    public var nodes: [[UInt8]]
    /// Missing nodes not in this page; the requester asks again with its new heads.
    public var remaining: Int
    /// The responder's heads when it answered (what "your heads" meant).
    public var heads: [CID]
    /// Set when what the requester lacks goes below history the responder no longer holds:
    /// the root of a snapshot to start from instead.
    public var snapshot: CID?

    public init(nodes: [[UInt8]], remaining: Int, heads: [CID], snapshot: CID? = nil) {
        self.nodes = nodes
        self.remaining = remaining
        self.heads = heads
        self.snapshot = snapshot
    }

    public func encoded() -> [UInt8] {
        var m: [String: DagCBOR] = ["n": .list(nodes.map { .bytes($0) }), "r": .int(Int64(remaining)), "h": .list(heads.map { .link($0) })]
        if let snapshot { m["s"] = .link(snapshot) }
        return DagCBOR.map(m).encoded()
    }

    public init(decoding bytes: [UInt8]) throws(PinsetError) {
        let m = try SyncCodec.map(bytes, "fetch response", allowed: ["n", "r", "h", "s"])
        nodes = try SyncCodec.blobs(m["n"], "fetch response nodes", maxTotal: Self.maxBytes)
        guard case .int(let r)? = m["r"], r >= 0, r <= Int64(Int32.max) else {
            throw PinsetError(.malformed, "fetch response: remaining must be a non-negative integer")
        }
        remaining = Int(r)
        heads = try SyncCodec.links(m["h"], "fetch response heads", max: PinsetAnnouncement.maxHeads)
        snapshot = try SyncCodec.link(m["s"], "fetch response snapshot")
    }
}

/// A request for blocks by CID (snapshot roots, indexes and chunks): `{"c": [links]}`; the
/// answer is `{"b": [bytes]}`, in request order, as many as fit one page (at least one),
/// stopping before the first one the responder does not hold.
public struct PinsetBlocksRequest: Hashable, Sendable {
    public static let maxBlocks = 256
    public var cids: [CID]

    public init(cids: [CID]) { self.cids = cids }

    public func encoded() -> [UInt8] { DagCBOR.map(["c": .list(cids.map { .link($0) })]).encoded() }

    public init(decoding bytes: [UInt8]) throws(PinsetError) {
        let m = try SyncCodec.map(bytes, "blocks request", allowed: ["c"])
        cids = try SyncCodec.links(m["c"], "blocks request", max: Self.maxBlocks)
    }
}

public struct PinsetBlocksResponse: Hashable, Sendable {
    public var blocks: [[UInt8]]

    public init(blocks: [[UInt8]]) { self.blocks = blocks }

    public func encoded() -> [UInt8] { DagCBOR.map(["b": .list(blocks.map { .bytes($0) })]).encoded() }

    public init(decoding bytes: [UInt8]) throws(PinsetError) {
        let m = try SyncCodec.map(bytes, "blocks response", allowed: ["b"])
        blocks = try SyncCodec.blobs(m["b"], "blocks response", maxTotal: PinsetFetchResponse.maxBytes)
    }
}

enum SyncCodec {
    static func map(_ bytes: [UInt8], _ what: String, allowed: Set<String>) throws(PinsetError) -> [String: DagCBOR] {
        guard bytes.count <= PinsetFetchResponse.maxBytes + 1024 else { throw PinsetError(.tooLarge, "\(what) of \(bytes.count) bytes is over the limit") }
        let value: DagCBOR
        do throws(UnixFSError) { value = try DagCBOR(decoding: bytes) } catch {
            throw PinsetError(.malformed, "\(what) is not canonical DAG-CBOR: \(error.message)")
        }
        guard case .map(let m) = value else { throw PinsetError(.malformed, "\(what) is not a map") }
        for k in m.keys where !allowed.contains(k) { throw PinsetError(.malformed, "\(what) has unknown field \"\(k)\"") }
        return m
    }

    static func links(_ v: DagCBOR?, _ what: String, max: Int) throws(PinsetError) -> [CID] {
        guard let v else { return [] }
        guard case .list(let items) = v, items.count <= max else { throw PinsetError(.malformed, "\(what) must be a list of at most \(max) links") }
        return try items.map { (x) throws(PinsetError) -> CID in
            guard case .link(let c) = x else { throw PinsetError(.malformed, "\(what) holds something that is not a link") }
            return c
        }
    }

    static func link(_ v: DagCBOR?, _ what: String) throws(PinsetError) -> CID? {
        guard let v else { return nil }
        guard case .link(let c) = v else { throw PinsetError(.malformed, "\(what) must be a link") }
        return c
    }

    static func blobs(_ v: DagCBOR?, _ what: String, maxTotal: Int) throws(PinsetError) -> [[UInt8]] {
        guard let v else { return [] }
        guard case .list(let items) = v else { throw PinsetError(.malformed, "\(what) must be a list of byte strings") }
        var total = 0
        return try items.map { (x) throws(PinsetError) -> [UInt8] in
            guard case .bytes(let b) = x else { throw PinsetError(.malformed, "\(what) holds something that is not bytes") }
            total += b.count
            guard total <= maxTotal else { throw PinsetError(.tooLarge, "\(what) exceed \(maxTotal) bytes") }
            return b
        }
    }
}
