public import ClusterModel
public import Multiformats
public import Sodium

/// A signed, content-addressed copy of the pinset's state at a set of heads, from which a
/// new peer starts instead of replaying the whole history (`Specs/pinset-crdt.md`,
/// "Snapshots"). Three levels of DAG-CBOR blocks, each at most `DeltaNode.maxBytes`:
/// the signed **root** lists **index** blocks, which list **chunks**, which hold the live
/// elements in (key, id) order.
public struct PinsetSnapshot: Hashable, Sendable {
    public static let version: Int64 = 1
    public static let signingPrefix: [UInt8] = Array("pinmesh-pinset-snapshot-v1:".utf8)
    /// Links per index block and index blocks per root (so a root or index stays small).
    public static let maxLinks = 1_400

    public struct Head: Hashable, Sendable {
        public var cid: CID
        public var height: UInt64
        public init(cid: CID, height: UInt64) {
            self.cid = cid
            self.height = height
        }
    }

    public var author: PeerID
    /// Author's clock when made (informational).
    public var created: Timestamp
    /// The state is exactly that of every node up to these heads.
    public var heads: [Head]
    /// Live elements in all chunks.
    public var elements: UInt64
    public var indexes: [CID]
    /// Blocks listing every node the snapshot covers (the heads and all their ancestors), so
    /// a peer that starts from it, or drops its history, still recognises those nodes and
    /// never applies one again (which would bring back values their descendants removed).
    public var covered: [CID]
    public var signature: [UInt8] = []

    public init(author: PeerID, created: Timestamp, heads: [Head], elements: UInt64, indexes: [CID], covered: [CID]) {
        self.author = author
        self.created = created
        self.heads = heads.sorted { $0.cid < $1.cid }
        self.elements = elements
        self.indexes = indexes
        self.covered = covered
    }

    func encode(signed: Bool) -> [UInt8] {
        var w = CBORWriter()
        w.head(5, signed ? 8 : 7)
        w.key("c")
        w.int(created.unixMillis)
        w.key("h")
        w.head(4, UInt64(heads.count))
        for h in heads {
            w.head(4, 2)
            w.link(h.cid)
            w.int(Int64(clamping: h.height))
        }
        w.key("i")
        w.head(4, UInt64(indexes.count))
        for i in indexes { w.link(i) }
        w.key("k")
        w.head(4, UInt64(covered.count))
        for k in covered { w.link(k) }
        w.key("n")
        w.int(Int64(clamping: elements))
        if signed {
            w.key("s")
            w.data(signature)
        }
        w.key("v")
        w.int(Self.version)
        w.key("w")
        w.data(author.bytes)
        return w.bytes
    }

    public func encoded() -> [UInt8] { encode(signed: true) }

    public mutating func sign(with key: Ed25519.PrivateKey) {
        signature = key.signature(for: Self.signingPrefix + encode(signed: false))
    }

    public var hasValidSignature: Bool {
        guard let raw = author.ed25519PublicKey, let key = try? Ed25519.PublicKey(bytes: raw) else { return false }
        return key.isValidSignature(signature, for: Self.signingPrefix + encode(signed: false))
    }

    public init(decoding bytes: [UInt8]) throws(PinsetError) {
        guard bytes.count <= DeltaNode.maxBytes else { throw PinsetError(.tooLarge, "snapshot root of \(bytes.count) bytes is over the limit") }
        var r = CBORScanner(bytes, what: "snapshot root")
        guard try r.count(5, "a map") == 8 else { throw r.fail("must have exactly the fields c h i k n s v w") }
        var previous: ArraySlice<UInt8>?
        guard try r.key(after: &previous).is("c") else { throw r.fail("field c expected") }
        created = Timestamp(unixMillis: try r.int())
        guard try r.key(after: &previous).is("h") else { throw r.fail("field h expected") }
        let nh = try r.count(4, "heads")
        guard nh >= 1, nh <= DeltaNode.maxParents else { throw r.fail("1 to \(DeltaNode.maxParents) heads expected") }
        heads = []
        for _ in 0..<nh {
            guard try r.count(4, "a head") == 2 else { throw r.fail("a head is [link, height]") }
            let c = try r.link()
            let h = try r.int()
            guard h >= 1 else { throw r.fail("a head's height is at least 1") }
            if let last = heads.last, !(last.cid < c) { throw r.fail("heads must be sorted and distinct") }
            heads.append(Head(cid: c, height: UInt64(h)))
        }
        guard try r.key(after: &previous).is("i") else { throw r.fail("field i expected") }
        let ni = try r.count(4, "indexes")
        guard ni <= Self.maxLinks else { throw r.fail("at most \(Self.maxLinks) index links") }
        indexes = []
        for _ in 0..<ni { indexes.append(try r.link()) }
        guard try r.key(after: &previous).is("k") else { throw r.fail("field k expected") }
        let nk = try r.count(4, "covered links")
        guard nk >= 1, nk <= Self.maxLinks else { throw r.fail("1 to \(Self.maxLinks) covered-node links") }
        covered = []
        for _ in 0..<nk { covered.append(try r.link()) }
        guard try r.key(after: &previous).is("n") else { throw r.fail("field n expected") }
        let n = try r.int()
        guard n >= 0 else { throw r.fail("element count is not negative") }
        elements = UInt64(n)
        guard try r.key(after: &previous).is("s") else { throw r.fail("field s expected") }
        signature = Array(try r.data())
        guard signature.count == Ed25519.signatureBytes else { throw r.fail("signature must be 64 bytes") }
        guard try r.key(after: &previous).is("v"), try r.int() == Self.version else { throw r.fail("version must be \(Self.version)") }
        guard try r.key(after: &previous).is("w"), let a = try? PeerID(bytes: Array(try r.data())) else {
            throw r.fail("author must be a binary peer ID")
        }
        author = a
        guard r.atEnd else { throw r.fail("bytes after the value") }
    }
}

/// An index block: `{"c": [chunk links]}`.
public enum SnapshotIndex {
    public static func encode(_ chunks: [CID]) -> [UInt8] {
        var w = CBORWriter()
        w.head(5, 1)
        w.key("c")
        w.head(4, UInt64(chunks.count))
        for c in chunks { w.link(c) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(PinsetError) -> [CID] {
        var r = CBORScanner(bytes, what: "snapshot index")
        var previous: ArraySlice<UInt8>?
        guard try r.count(5, "a map") == 1, try r.key(after: &previous).is("c") else { throw r.fail("must be {c: [links]}") }
        let n = try r.count(4, "chunk links")
        guard n >= 1, n <= PinsetSnapshot.maxLinks else { throw r.fail("1 to \(PinsetSnapshot.maxLinks) chunk links") }
        var out: [CID] = []
        for _ in 0..<n { out.append(try r.link()) }
        guard r.atEnd else { throw r.fail("bytes after the value") }
        return out
    }
}

/// A covered-nodes block: `{"k": [[node CID bytes, height], ...]}`, sorted by CID bytes.
public enum SnapshotCover {
    public static let maxEntries = 1_400

    public static func encode(_ nodes: ArraySlice<PinsetSnapshot.Head>) -> [UInt8] {
        var w = CBORWriter(capacity: nodes.count * 44)
        w.head(5, 1)
        w.key("k")
        w.head(4, UInt64(nodes.count))
        for n in nodes {
            w.head(4, 2)
            w.data(n.cid.bytes)
            w.int(Int64(clamping: n.height))
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(PinsetError) -> [PinsetSnapshot.Head] {
        var r = CBORScanner(bytes, what: "snapshot cover block")
        var previous: ArraySlice<UInt8>?
        guard try r.count(5, "a map") == 1, try r.key(after: &previous).is("k") else { throw r.fail("must be {k: [[cid, height]]}") }
        let n = try r.count(4, "covered nodes")
        guard n >= 1, n <= maxEntries else { throw r.fail("1 to \(maxEntries) covered nodes") }
        var out: [PinsetSnapshot.Head] = []
        var last: ArraySlice<UInt8>?
        for _ in 0..<n {
            guard try r.count(4, "a covered node") == 2 else { throw r.fail("a covered node is [cid, height]") }
            let cb = try r.data()
            if let l = last { guard l.lexicographicallyPrecedes(cb) else { throw r.fail("covered nodes must be sorted and distinct") } }
            last = cb
            guard let c = try? CID(bytes: Array(cb)) else { throw r.fail("a covered node is a binary CID") }
            let h = try r.int()
            guard h >= 1 else { throw r.fail("a height is at least 1") }
            out.append(PinsetSnapshot.Head(cid: c, height: UInt64(h)))
        }
        guard r.atEnd else { throw r.fail("bytes after the value") }
        return out
    }
}

/// A chunk: `{"e": [[key, id, priority, pin value], ...]}`, elements in (key, id) order; a
/// re-allocated element has two more items, `[…, re-allocation id, its priority]`.
public enum SnapshotChunk {
    public static func encode(_ elements: [(key: CID, element: PinElement)]) -> [UInt8] {
        var w = CBORWriter(capacity: elements.count * 200)
        w.head(5, 1)
        w.key("e")
        w.head(4, UInt64(elements.count))
        for (key, e) in elements { append(key, e, to: &w) }
        return w.bytes
    }

    static func append(_ key: CID, _ e: PinElement, to w: inout CBORWriter) {
        w.head(4, e.overlay == nil ? 4 : 6)
        w.data(key.bytes)
        w.data(e.id.bytes)
        w.int(Int64(clamping: e.priority))
        PinCodec.encode(e.pin, into: &w)
        if let o = e.overlay {
            w.data(o.id.bytes)
            w.int(Int64(clamping: o.priority))
        }
    }

    /// The encoded size of one element in a chunk.
    public static func size(_ key: CID, _ e: PinElement) -> Int {
        var w = CBORWriter()
        append(key, e, to: &w)
        return w.bytes.count
    }

    public static func decode(_ bytes: [UInt8]) throws(PinsetError) -> [(key: CID, element: PinElement)] {
        guard bytes.count <= DeltaNode.maxBytes else { throw PinsetError(.tooLarge, "snapshot chunk of \(bytes.count) bytes is over the limit") }
        var r = CBORScanner(bytes, what: "snapshot chunk")
        var previous: ArraySlice<UInt8>?
        guard try r.count(5, "a map") == 1, try r.key(after: &previous).is("e") else { throw r.fail("must be {e: [elements]}") }
        let n = try r.count(4, "elements")
        var out: [(key: CID, element: PinElement)] = []
        out.reserveCapacity(n)
        var last: ([UInt8], [UInt8])?
        for _ in 0..<n {
            let items = try r.count(4, "an element")
            guard items == 4 || items == 6 else {
                throw r.fail("an element is [key, id, priority, value] or [key, id, priority, value, re-allocation id, priority]")
            }
            let kb = Array(try r.data()), ib = Array(try r.data())
            if let (lk, li) = last {
                guard lk.lexicographicallyPrecedes(kb) || (lk == kb && li.lexicographicallyPrecedes(ib)) else {
                    throw r.fail("elements must be sorted by (key, id) and distinct")
                }
            }
            last = (kb, ib)
            guard let key = try? CID(bytes: kb), let id = try? CID(bytes: ib) else { throw r.fail("key and id must be binary CIDs") }
            let p = try r.int()
            guard p >= 1 else { throw r.fail("priority is at least 1") }
            let pin = try PinCodec.decode(&r, cid: key)
            var overlay: PinElement.Overlay?
            if items == 6 {
                guard let oid = try? CID(bytes: Array(try r.data())) else { throw r.fail("a re-allocation id must be a binary CID") }
                let op = try r.int()
                guard op > p else { throw r.fail("a re-allocation's priority is above its element's") }
                overlay = PinElement.Overlay(id: oid, priority: UInt64(op))
            }
            out.append((key, PinElement(id: id, priority: UInt64(p), pin: pin, overlay: overlay)))
        }
        guard r.atEnd else { throw r.fail("bytes after the value") }
        return out
    }
}

/// Builds a snapshot from elements fed in (key, id) order: chunks, indexes and the signed
/// root, every block with its CID.
public struct SnapshotBuilder {
    /// Blocks made so far (chunks, then indexes); take them with `takeBlocks()` as they come.
    public private(set) var blocks: [(cid: CID, bytes: [UInt8])] = []
    private var chunkLinks: [CID] = []
    private var pending: [(key: CID, element: PinElement)] = []
    private var pendingBytes = 0
    private var count: UInt64 = 0
    /// Room for the chunk's own envelope.
    private let budget = DeltaNode.maxBytes - 64

    public init() {}

    public mutating func takeBlocks() -> [(cid: CID, bytes: [UInt8])] {
        defer { blocks.removeAll(keepingCapacity: true) }
        return blocks
    }

    public mutating func add(_ key: CID, _ element: PinElement) {
        let size = SnapshotChunk.size(key, element)
        if pendingBytes + size > budget && !pending.isEmpty { flush() }
        pending.append((key, element))
        pendingBytes += size
        count += 1
    }

    private mutating func flush() {
        let bytes = SnapshotChunk.encode(pending)
        let cid = DeltaNode.cid(of: bytes)
        blocks.append((cid, bytes))
        chunkLinks.append(cid)
        pending.removeAll(keepingCapacity: true)
        pendingBytes = 0
    }

    /// Finishes: index blocks, then the root signed by `key`. Throws when the state is too
    /// big for one root (1,400 × 1,400 chunks, about 100 GB of pins).
    public mutating func finish(
        heads: [PinsetSnapshot.Head], covered: [PinsetSnapshot.Head], author: PeerID, key: Ed25519.PrivateKey, created: Timestamp
    ) throws(PinsetError) -> (cid: CID, root: PinsetSnapshot, bytes: [UInt8]) {
        guard !heads.isEmpty, !covered.isEmpty else { throw PinsetError(.malformed, "an empty pinset has no snapshot") }
        let sortedCover = covered.sorted { $0.cid.bytes.lexicographicallyPrecedes($1.cid.bytes) }
        var cover: [CID] = []
        for start in stride(from: 0, to: sortedCover.count, by: SnapshotCover.maxEntries) {
            let bytes = SnapshotCover.encode(sortedCover[start..<min(sortedCover.count, start + SnapshotCover.maxEntries)])
            let cid = DeltaNode.cid(of: bytes)
            blocks.append((cid, bytes))
            cover.append(cid)
        }
        guard cover.count <= PinsetSnapshot.maxLinks else {
            throw PinsetError(.tooLarge, "the history needs \(cover.count) cover blocks, over \(PinsetSnapshot.maxLinks)")
        }
        if !pending.isEmpty { flush() }
        var indexes: [CID] = []
        for start in stride(from: 0, to: chunkLinks.count, by: PinsetSnapshot.maxLinks) {
            let bytes = SnapshotIndex.encode(Array(chunkLinks[start..<min(chunkLinks.count, start + PinsetSnapshot.maxLinks)]))
            let cid = DeltaNode.cid(of: bytes)
            blocks.append((cid, bytes))
            indexes.append(cid)
        }
        guard indexes.count <= PinsetSnapshot.maxLinks else {
            throw PinsetError(.tooLarge, "the state needs \(indexes.count) snapshot index blocks, over \(PinsetSnapshot.maxLinks)")
        }
        var root = PinsetSnapshot(author: author, created: created, heads: heads, elements: count, indexes: indexes, covered: cover)
        root.sign(with: key)
        let bytes = root.encoded()
        return (DeltaNode.cid(of: bytes), root, bytes)
    }
}
